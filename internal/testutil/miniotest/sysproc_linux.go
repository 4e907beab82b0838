package miniotest

import "syscall"

// sysProcAttr makes the kernel kill MinIO if the test process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
