package discoverytest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the daemon die with the test process, even when that
// is killed outright (a test timeout).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
