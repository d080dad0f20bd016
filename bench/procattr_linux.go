package bench

import "syscall"

// childAttr has the kernel send SIGTERM to a cluster node when the bench
// that started it dies, even by SIGKILL: no node outlives its bench.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
