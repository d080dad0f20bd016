//go:build linux || darwin || freebsd

package eventstore

import "syscall"

// diskFree is the space free to an unprivileged writer on the file system
// holding dir, in bytes; -1 when it cannot be known. (The blocks reserved
// for root are left out: counting them would start JetStream again on a
// disk about to fill.)
func diskFree(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
