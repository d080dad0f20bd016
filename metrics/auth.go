package metrics

import "github.com/prometheus/client_golang/prometheus"

// Where a credential is refused, and why: an unknown bearer token, or a
// client held back for presenting too many (auth.Limiter).
var (
	authSurfaces = []string{"api", "console"}
	authReasons  = []string{"unknown_token", "throttled"}
)

func newAuthRefused() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_auth_refused_total",
		Help: "Bearer tokens refused, by surface (api, console sign-in) and reason (unknown_token; throttled: the client had presented too many unknown tokens and was answered 429)."},
		[]string{"surface", "reason"})
	for _, s := range authSurfaces {
		for _, r := range authReasons {
			c.WithLabelValues(s, r)
		}
	}
	return c
}

// OnAuthRefused counts a refused token on surface ("api" or "console"),
// for reason ("unknown_token" or "throttled").
func (m *Metrics) OnAuthRefused(surface, reason string) {
	m.authRefused.WithLabelValues(surface, reason).Inc()
}
