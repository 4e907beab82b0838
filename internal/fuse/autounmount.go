package fuse

import (
	"os"
	"os/exec"
	"syscall"
)

// autoUnmounter unmounts the mount point when this process dies, however it
// dies (SIGKILL included): a small watcher process in its own session reads
// a pipe whose only writer is this process, and unmounts when the pipe
// closes. fusermount3's own auto_unmount cannot be used: it keeps the
// helper running, and go-fuse waits for the helper to exit.
type autoUnmounter struct {
	cmd *exec.Cmd
	w   *os.File
}

func startAutoUnmount(dir string) (*autoUnmounter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// "$1" is the mount point; read returns at EOF, when we are gone.
	cmd := exec.Command("/bin/sh", "-c", `read -r _; exec fusermount3 -u -z "$1" 2>/dev/null || exec umount -l "$1"`, "bucketfs-auto-unmount", dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	go cmd.Wait() // reap it if it exits while we live
	return &autoUnmounter{cmd: cmd, w: w}, nil
}

// stop disarms the watcher after a clean unmount.
func (a *autoUnmounter) stop() {
	if a == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	_ = a.w.Close()
}
