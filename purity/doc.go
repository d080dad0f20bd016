// Package purity keeps the domain packages pure: its test fails when one of
// them comes to depend, directly or through another package, on a NATS
// module. The rules (events, deciders, folds, policies, the public
// contract's encoder, the calendar, reference data, the simulator's
// generator) then stay testable with no server, and readable without one.
package purity
