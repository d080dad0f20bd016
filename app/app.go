// Package app is the application layer: what a person may do with the
// engine, written once for both faces. The API (JSON over HTTP) and the
// console (HTML forms) are adapters around it: they parse a request, call
// a use case here and render what it returns. Here live the decisions that
// must not differ between the faces: who may run which command and see
// which referral (authz.go), which actions the rules would accept now
// (actions.go, a dry run of the deciders), and which answer each failure
// of the engine, a decider or the store gets (classify.go).
//
//ntsflow:shell
package app

import (
	"github.com/ntsflow/ntsflow/auth"
)

// Caller is who calls, as both faces know it. With authentication off (no
// token file: the engine then listens on loopback only) On is false and
// every rule allows, as it always has in both faces.
type Caller struct {
	P  auth.Principal
	On bool
}

// As is the caller a principal speaks for, with authentication on.
func As(p auth.Principal) Caller { return Caller{P: p, On: true} }

// Anyone is the caller with authentication off.
func Anyone() Caller { return Caller{} }
