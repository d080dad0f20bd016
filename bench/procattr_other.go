//go:build !linux

package bench

import "syscall"

// childAttr: only Linux ties a child's life to its parent's; elsewhere
// Stop (and Ctrl-C, which reaches the whole process group) end the nodes.
func childAttr() *syscall.SysProcAttr { return nil }
