package events

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"testing"
)

// realCommits are 198 commits as the engine stored them, taken from a
// history the simulator decided through the real deciders (bench.LoadHistory):
// every kind of command a referral meets, 431 bytes on average.
func realCommits(tb testing.TB) [][]byte {
	b, err := os.ReadFile("testdata/commits.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// decodeCommitV1 is DecodeCommit as it was, on encoding/json with
// DisallowUnknownFields for the commit, its envelopes and each payload: the
// baseline the faster decoder was chosen against. types are the payloads'
// types, in order (found beforehand, outside the timing).
func decodeCommitV1(b []byte, types []reflect.Type) (Commit, error) {
	var w wireCommitIn
	if err := DecodeStrict(b, &w); err != nil {
		return Commit{}, err
	}
	c := Commit{Command: w.Command, IdempotencyKey: w.IdempotencyKey, RequestHash: w.RequestHash, Events: make([]Event, 0, len(w.Events))}
	for i, we := range w.Events {
		e := we.envelope()
		p := reflect.New(types[i])
		if err := DecodeStrict(we.Data, p.Interface()); err != nil {
			return Commit{}, err
		}
		e.Data = p.Elem().Interface()
		c.Events = append(c.Events, e)
	}
	return c, nil
}

// Every real commit decodes, and re-encodes to the bytes it was read from;
// the baseline decoder reads the same.
func TestRealCommitsDecode(t *testing.T) {
	for i, b := range realCommits(t) {
		c, err := DecodeCommit(b)
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		var types []reflect.Type
		for _, e := range c.Events {
			types = append(types, reflect.TypeOf(e.Data))
		}
		if old, err := decodeCommitV1(b, types); err != nil || !reflect.DeepEqual(old, c) {
			t.Fatalf("commit %d: encoding/json reads it otherwise: %v", i, err)
		}
		again, err := EncodeCommit(c)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("commit %d does not re-encode to its bytes: %v\n%s\n%s", i, err, b, again)
		}
	}
}

// go test ./events -run XXX -bench RealCommits
func BenchmarkDecodeRealCommits(b *testing.B) {
	commits := realCommits(b)
	nEvents, nBytes := 0, 0
	types := make([][]reflect.Type, len(commits))
	for i, c := range commits {
		d, _ := DecodeCommit(c)
		nEvents += len(d.Events)
		nBytes += len(c)
		for _, e := range d.Events {
			types[i] = append(types[i], reflect.TypeOf(e.Data))
		}
	}
	i := 0
	for _, v := range []struct {
		name   string
		decode func([]byte) (Commit, error)
	}{
		{"encoding/json", func(b []byte) (Commit, error) { return decodeCommitV1(b, types[i]) }},
		{"go-json-experiment", decodeCommitStored},
		{"fast-path", DecodeCommit},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(nBytes))
			b.ReportAllocs()
			for range b.N {
				for j, c := range commits {
					i = j
					if _, err := v.decode(c); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nEvents), "ns/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}
