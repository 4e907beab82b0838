package mount

import (
	"testing"
)

// TestUnmountRefusesNonFUSE: unmount only touches FUSE mount points.
func TestUnmountRefusesNonFUSE(t *testing.T) {
	dir := t.TempDir()
	if err := Unmount(dir, false); err == nil || err.Error() != dir+" is not a mount point" {
		t.Errorf("Unmount(%s) = %v", dir, err)
	}
	if m, err := findMount("/proc"); err != nil || m == nil {
		t.Skipf("no /proc mount in this environment (%v)", err)
	}
	if err := Unmount("/proc", false); err == nil || err.Error() != "/proc is not a FUSE mount (it is proc)" {
		t.Errorf("Unmount(/proc) = %v", err)
	}
}

func TestCheckNotMounted(t *testing.T) {
	if err := checkNotMounted(t.TempDir()); err != nil {
		t.Errorf("checkNotMounted(temp dir) = %v", err)
	}
}
