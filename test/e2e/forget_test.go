package e2e

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inodesInUse is what statfs shows as the files in use (df -i): the inodes
// the mount's table holds.
func inodesInUse(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Files - st.Ffree
}

// The kernel's FORGETs (here forced by dropping its dentry and inode caches)
// take inodes out of the mount's table, after every lookup of them is
// forgotten; a file still open survives and reads on; a forgotten name's
// next lookup works.
func TestForgottenInodesLeaveTheTable(t *testing.T) {
	objects := map[string]string{}
	for i := range 50 {
		objects[fmt.Sprintf("d/f%02d", i)] = fmt.Sprintf("file %d\n", i)
	}
	m := mount(t, objects)
	m.mustSh("ls -l d >/dev/null; stat d/f01 d/f01 d/f01 >/dev/null") // several lookups of f01
	if n := inodesInUse(t, m.dir); n < 52 {
		t.Fatalf("%d inodes in use after ls -l of 50 files, want at least 52", n)
	}
	open, err := os.Open(m.path("d/f07"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	var n uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2\n"), 0); err != nil {
			t.Fatalf("dropping the kernel's dentries and inodes: %v", err)
		}
		if n = inodesInUse(t, m.dir); n <= 3 {
			break
		}
	}
	if n > 3 {
		t.Fatalf("%d inodes in use after the kernel forgot all but d/f07, want 3 (root, d, d/f07)", n)
	}
	if b, err := io.ReadAll(open); err != nil || string(b) != "file 7\n" {
		t.Fatalf("the open file after the forget: %q, %v", b, err)
	}
	if out := m.mustSh("cat d/f01 d/f49"); !strings.Contains(out, "file 1\n") || !strings.Contains(out, "file 49\n") {
		t.Fatalf("cat after the forget: %q", out)
	}
}
