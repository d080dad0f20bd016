// Package policy reads the sagas' rules kept as data (each saga's
// policy.json, or an operator's file in its place): strictly, so a
// misspelt field is an error rather than a default, and then checked by
// the saga's own rule for what a usable policy is.
package policy

import (
	"fmt"
	"os"

	"github.com/ntsflow/ntsflow/events"
)

// Parse reads a policy and checks it.
func Parse[P any](b []byte, check func(P) error) (P, error) {
	var p, zero P
	if err := events.DecodeStrict(b, &p); err != nil {
		return zero, err
	}
	if err := check(p); err != nil {
		return zero, err
	}
	return p, nil
}

// Load reads a policy file; what names it in errors ("deadline policy").
func Load[P any](path, what string, check func(P) error) (P, error) {
	var zero P
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	p, err := Parse(b, check)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return p, nil
}

// Shipped reads the policy shipped in the binary, which must be good: a
// bad one is a build that must not run.
func Shipped[P any](b []byte, what string, check func(P) error) P {
	p, err := Parse(b, check)
	if err != nil {
		panic(what + ": shipped policy.json: " + err.Error())
	}
	return p
}

// Rule is one saga's policy as its package ships it: what names it in
// errors ("deadline policy"), the policy.json shipped in the binary, and
// the saga's own check of what makes a policy usable.
type Rule[P any] struct {
	What    string
	Shipped []byte
	Check   func(P) error
}

// Default is the policy shipped in the binary.
func (r Rule[P]) Default() P { return Shipped(r.Shipped, r.What, r.Check) }

// Parse reads and checks a policy.
func (r Rule[P]) Parse(b []byte) (P, error) { return Parse(b, r.Check) }

// FileOr is the policy in force: the operator's file at path, or the
// shipped one when no file is named ("").
func (r Rule[P]) FileOr(path string) (P, error) {
	if path == "" {
		return r.Default(), nil
	}
	return Load(path, r.What, r.Check)
}
