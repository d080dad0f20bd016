// Package purity keeps the domain packages pure: its test fails when one of
// them comes to depend, directly or through another package, on a NATS
// module. The rules (events, deciders, folds, policies, the public
// contract's encoder, the calendar, reference data, the simulator's
// generator) then stay testable with no server, and readable without one.
//
// Which packages are pure is read from the layout, not kept in a list:
// every package of the module is pure unless its doc comment ends with the
// line //ntsflow:shell (the packages that do I/O: the store, the engine,
// the faces, the binary). A new package is therefore checked from its
// first commit; marking it as the shell is a decision a reviewer sees.
package purity
