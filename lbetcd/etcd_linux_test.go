package lbetcd_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill etcd if the test process dies first (a
// -timeout panic, a SIGKILL), so no server is left behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
