package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
)

// authenticate finds who is calling. With no token file, authentication is
// off (the engine then refuses to listen beyond loopback, see serve).
// Probes are open to all: orchestrators call them without credentials.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Tokens == nil || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ntsflow"`)
			writeError(w, apiError(http.StatusUnauthorized, "unauthenticated", "Authorization", "send a bearer token: Authorization: Bearer <token>"))
			return
		}
		client := s.Tokens.Client(r)
		p, err := s.Tokens.Authenticate(client, token)
		var held *auth.ThrottledError
		switch {
		case errors.As(err, &held):
			s.refused(r, client, "throttled")
			w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds(held.RetryAfter)))
			writeError(w, apiError(http.StatusTooManyRequests, "too_many_attempts", "Authorization",
				"too many unknown tokens came from your address; every request from it is refused for %s, even with a good token", auth.RetryAfterWords(held.RetryAfter)))
			return
		case err != nil:
			s.refused(r, client, "unknown_token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="ntsflow", error="invalid_token"`)
			writeError(w, apiError(http.StatusUnauthorized, "unauthenticated", "Authorization", "this token is not known (revoked, or mistyped)"))
			return
		}
		inner := r.WithContext(auth.With(r.Context(), p))
		next.ServeHTTP(w, inner)
		// The mux sets the route on the copy it was given; the logging and
		// metrics around this handler read it from the original.
		r.Pattern = inner.Pattern
	})
}

// refused logs and counts a bearer token refused: an unknown token, or a
// client held back for presenting too many.
func (s *Server) refused(r *http.Request, client, reason string) {
	s.log().Warn("bearer token refused", "client", client, "reason", reason, "method", r.Method, "path", r.URL.Path)
	if s.Metrics != nil {
		s.Metrics.OnAuthRefused("api", reason)
	}
}

// bearerToken reads "Bearer <token>"; the scheme's name is
// case-insensitive (RFC 9110, section 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// restricted reports whether the caller sees only part of the log (an
// authority or a region): such callers get opaque read tokens, never
// stream sequences, which would count other authorities' commands.
func restricted(r *http.Request) bool { return caller(r).Restricted() }

// authorizeRoute applies the coarse rule (app.Caller.MayCall) once the
// route is known.
func (s *Server) authorizeRoute(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := caller(r); !c.MayCall(pattern) {
			p := c.P
			writeError(w, apiError(http.StatusForbidden, "forbidden", "", "the %s role may not call %s", p.Role(), pattern))
			return
		}
		h(w, r)
	}
}

// principal returns the caller and whether authentication is on.
func principal(r *http.Request) (auth.Principal, bool) { return auth.From(r.Context()) }

// caller is the request's caller, whom package app's role rules judge.
func caller(r *http.Request) app.Caller {
	p, on := principal(r)
	return app.Caller{P: p, On: on}
}

func forbidden(p auth.Principal, what string) *Error {
	return apiError(http.StatusForbidden, "forbidden", "", "the %s role may not %s", p.Role(), what)
}
