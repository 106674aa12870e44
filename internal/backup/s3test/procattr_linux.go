package s3test

import "syscall"

// dieWithParent makes the kernel kill the server when the test binary dies without cleaning up
// (a timeout's panic, a signal), so that no server outlives its tests.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
