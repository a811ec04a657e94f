package storetest

import "syscall"

// sysProcAttr has the kernel kill the server if the test binary dies
// without cleaning up (a `go test -timeout` panic), so no orphan keeps the
// ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
