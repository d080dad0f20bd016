package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
)

// Sign in and out.

type signInData struct {
	Next  string
	Error string
	// Lasts says when a session ends by itself.
	Lasts string
}

func (s *Server) signInForm(w http.ResponseWriter, c *call, code int, next, msg string) {
	d := signInData{Next: next, Error: msg, Lasts: fmt.Sprintf("after %s unused, or %s after signing in", durationWords(s.sessionIdle()), durationWords(s.sessionMaxAge()))}
	p := page{Title: "Sign in", C: c, Data: d}
	if msg != "" {
		p.Title, p.Errors = "Error: Sign in", []fieldError{{Field: "token", Anchor: "token", Message: msg}}
	}
	s.render(w, code, "signin", p)
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, c *call) {
	s.signInForm(w, c, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request, c *call) {
	next := safeNext(r.PostForm.Get("next"))
	if !c.On {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.signInForm(w, c, http.StatusUnauthorized, next, "Enter your access token")
		return
	}
	client := s.Tokens.Client(r)
	p, err := s.Tokens.Authenticate(client, token)
	var held *auth.ThrottledError
	switch {
	case errors.As(err, &held):
		s.refused(client, "throttled")
		w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds(held.RetryAfter)))
		s.signInForm(w, c, http.StatusTooManyRequests, next, fmt.Sprintf("Too many access tokens that are not known were tried from your network, so signing in from it is paused. Try again in %s", auth.RetryAfterWords(held.RetryAfter)))
		return
	case err != nil:
		s.refused(client, "unknown_token")
		s.signInForm(w, c, http.StatusUnauthorized, next, "This access token is not known: it may be mistyped, or revoked. Ask your administrator for a new one")
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	sid, err := s.startSession(ctx, token)
	if err != nil {
		s.log().Error("console: sign-in not recorded", "name", p.Name, "err", err)
		s.signInForm(w, c, http.StatusServiceUnavailable, next, "Signing in did not work this time: the engine could not keep your session. Try again in a minute")
		return
	}
	s.setSession(w, c, sid)
	s.log().Info("console: signed in", "name", p.Name, "role", p.Role())
	if next == safeNext("") {
		// Nowhere asked for: the role's own first page, so an operator
		// never lands on a page that is not for them.
		next = app.As(p).Landing()
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// refused logs and counts a refused sign-in.
func (s *Server) refused(client, reason string) {
	s.log().Warn("console: sign-in refused", "client", client, "reason", reason)
	if s.Metrics != nil {
		s.Metrics.OnAuthRefused("console", reason)
	}
}

// durationWords says a session's lifetime as a person would: "30 minutes",
// "12 hours", "1 hour".
func durationWords(d time.Duration) string {
	unit, n := "minute", int(d/time.Minute)
	if d >= time.Hour && d%time.Hour == 0 {
		unit, n = "hour", int(d/time.Hour)
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, c *call) {
	if c.On {
		ctx, cancel := s.ctx(r)
		defer cancel()
		if err := s.endSession(ctx, c.sid); err != nil {
			s.log().Error("console: sign-out not recorded", "name", c.P.Name, "err", err)
			s.fail(w, c, http.StatusServiceUnavailable, "You are still signed in",
				"The engine could not end your session just now. Try signing out again in a minute; if you cannot, close the browser: the session ends by itself after a while unused.")
			return
		}
		if c.Signed {
			s.log().Info("console: signed out", "name", c.P.Name, "role", c.P.Role())
		}
	}
	s.setSession(w, c, newSessionID())
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}

// safeNext keeps a redirect on this site. A browser does not read a
// Location as written: it drops tabs and newlines anywhere, trims control
// characters and spaces at the ends and reads a backslash as a slash, so
// "/\t/evil", "/\\evil" and " //evil" all go off-site. Rather than copy that
// normalisation (and miss the next quirk), only a plain path is kept:
// printable ASCII with no backslash, one leading slash, no scheme or host.
func safeNext(n string) string {
	const home = "/console/at-risk"
	if n == "" || len(n) > 2048 || n[0] != '/' || (len(n) > 1 && n[1] == '/') {
		return home
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return home
		}
	}
	u, err := url.Parse(n)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return home
	}
	return n
}
