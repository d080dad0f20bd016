package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/auth"
)

func TestExposureRules(t *testing.T) {
	for _, c := range []struct {
		cfg serveConfig
		ok  bool
	}{
		{serveConfig{httpAddr: "127.0.0.1:8080"}, true},
		{serveConfig{httpAddr: "localhost:8080", tokens: "t.json"}, true},
		{serveConfig{httpAddr: "[::1]:8080", tokens: "t.json"}, true},
		{serveConfig{httpAddr: "0.0.0.0:8080"}, false},
		{serveConfig{httpAddr: "0.0.0.0:8080", insecure: true}, false},                  // a closed network waives TLS, never tokens
		{serveConfig{httpAddr: "0.0.0.0:8080", tokens: "t.json"}, false},                // tokens never in clear beyond loopback...
		{serveConfig{httpAddr: "0.0.0.0:8080", tokens: "t.json", insecure: true}, true}, // ...unless the network is declared closed (docker-compose)
		{serveConfig{httpAddr: "0.0.0.0:8080", tokens: "t.json", tlsCert: "c", tlsKey: "k"}, true},
		{serveConfig{httpAddr: "127.0.0.1:8080", tlsCert: "c"}, false},
		// Issue 12, item 5: beyond loopback, TLS alone is not enough.
		{serveConfig{httpAddr: "192.0.2.1:8443", tlsCert: "c", tlsKey: "k"}, false},
		{serveConfig{httpAddr: "[2001:db8::1]:8443", tlsCert: "c", tlsKey: "k"}, false},
		{serveConfig{httpAddr: "192.0.2.1:8443", tlsCert: "c", tlsKey: "k", tokens: "t.json"}, true},
	} {
		if err := checkExposure(&c.cfg); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ntsflow test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeOverTLSWithTokens(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	tok, entry := auth.NewToken("auditor", "auditor")
	b, _ := json.Marshal(auth.File{Tokens: []auth.Entry{entry}})
	tokens := filepath.Join(dir, "tokens.json")
	os.WriteFile(tokens, b, 0o600)
	base, stop := startServe(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile, "--tokens", tokens)
	defer stop()
	base = strings.Replace(base, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", base+"/v1/audit/verify", nil)
	res, err := client.Do(req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("no token over TLS: %v %v", res, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = client.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("auditor over TLS: %v %v", res, err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"token", "--role", "authority:E08000007", "--name", "Stockport"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "ntsf_") || !strings.Contains(errb.String(), `"sha256"`) {
		t.Fatalf("token: %d %s %s", code, out.String(), errb.String())
	}
	if code := run([]string{"token", "--role", "authority:Kent", "--name", "x"}, &out, &errb); code != 2 {
		t.Fatalf("a bad role: exit %d", code)
	}
}

// The tools carry a token to an engine that asks for one: --token-file, or
// $NTSFLOW_TOKEN; without one the engine's 401 is reported.
func TestToolsSendTheirToken(t *testing.T) {
	dir := t.TempDir()
	auditor, auditorEntry := auth.NewToken("auditor", "auditor")
	writer, writerEntry := auth.NewToken("Stockport", "authority:E08000007")
	b, _ := json.Marshal(auth.File{Tokens: []auth.Entry{auditorEntry, writerEntry}})
	tokens := filepath.Join(dir, "tokens.json")
	os.WriteFile(tokens, b, 0o600)
	base, stop := startServe(t, t.TempDir(), "--tokens", tokens, "--no-sagas")
	defer stop()

	req, _ := http.NewRequest("POST", base+"/v1/referrals", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+writer)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")

	var out, errb bytes.Buffer
	if code := run([]string{"history", "--server", base, id}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "401") {
		t.Fatalf("history without a token: exit %d: %s", code, errb.String())
	}
	out.Reset()
	tokenFile := filepath.Join(dir, "auditor.token")
	os.WriteFile(tokenFile, []byte(auditor+"\n"), 0o600)
	if code := run([]string{"history", "--server", base, "--token-file", tokenFile, id}, &out, &errb); code != 0 || !strings.Contains(out.String(), "referral.received") {
		t.Fatalf("history with an auditor's token file: exit %d: %s %s", code, out.String(), errb.String())
	}
	// history takes its flags after the referral too: a token file named
	// there is sent as well (it was read too late, and none was sent).
	out.Reset()
	if code := run([]string{"history", "--server", base, id, "--token-file", tokenFile}, &out, &errb); code != 0 || !strings.Contains(out.String(), "referral.received") {
		t.Fatalf("history REF --token-file F: exit %d: %s %s", code, out.String(), errb.String())
	}
	t.Setenv("NTSFLOW_TOKEN", auditor)
	out.Reset()
	if code := run([]string{"verify", "--server", base}, &out, &errb); code != 0 || !strings.Contains(out.String(), "no problems") {
		t.Fatalf("verify with $NTSFLOW_TOKEN: exit %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"export", "--server", base}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"referral.received"`) {
		t.Fatalf("export with $NTSFLOW_TOKEN: exit %d: %s %s", code, out.String(), errb.String())
	}
}
