//go:build !(linux || darwin || freebsd)

package eventstore

// diskFree cannot be known here: the embedded server's JetStream is then
// started again after a storage failure without looking at free space.
func diskFree(dir string) int64 { return -1 }
