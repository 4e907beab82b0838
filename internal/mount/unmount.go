package mount

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/mountinfo"
)

// FSType is the file-system type of a bucketfs mount in /proc/self/mountinfo
// (FUSE with subtype "bucketfs", as internal/fuse mounts it).
const FSType = "fuse.bucketfs"

// findMount returns the topmost mount at dir, or nil when dir is not a mount point.
func findMount(dir string) (*mountinfo.Entry, error) {
	entries, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	return mountinfo.Last(entries, canonical(dir)), nil
}

// canonical resolves symlinks in dir when it can (a stale FUSE mount cannot be
// resolved; its path is used as given).
func canonical(dir string) string {
	dir = filepath.Clean(dir)
	if parent, err := filepath.EvalSymlinks(filepath.Dir(dir)); err == nil {
		dir = filepath.Join(parent, filepath.Base(dir))
	}
	return dir
}

// checkNotMounted refuses to stack a second bucketfs mount on a bucketfs mount.
// Without /proc (not Linux) there is nothing to check.
func checkNotMounted(dir string) error {
	m, err := findMount(dir)
	if err != nil || m == nil || m.FSType != FSType {
		return nil
	}
	return fmt.Errorf("%s is already a bucketfs mount of %s: unmount it first with 'bucketfs unmount %s'", dir, m.Source, dir)
}

// lookPath finds a helper in PATH or, when PATH is empty or lacks it (as
// under some service managers), in the usual system directories.
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(dir, bin)); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Unmount unmounts the FUSE file system at dir: with fusermount3 (or
// fusermount) -u, which works for the user who mounted it, and, failing that,
// with umount(2) directly when running as root. With lazy the mount is detached
// at once and cleaned up when no longer busy (-z, MNT_DETACH). It refuses
// directories that are not FUSE mount points, so that it cannot unmount
// something else.
func Unmount(dir string, lazy bool) error {
	m, err := findMount(dir)
	if err != nil {
		return fmt.Errorf("cannot read the mount table: %w", err)
	}
	if m == nil {
		return fmt.Errorf("%s is not a mount point", dir)
	}
	if m.FSType != "fuse" && !strings.HasPrefix(m.FSType, "fuse.") {
		return fmt.Errorf("%s is not a FUSE mount (it is %s)", dir, m.FSType)
	}
	target := m.MountPoint

	var firstErr error
	for _, bin := range []string{"fusermount3", "fusermount"} {
		path, err := lookPath(bin)
		if err != nil {
			continue
		}
		flag := "-u"
		if lazy {
			flag = "-uz"
		}
		out, err := exec.Command(path, flag, target).CombinedOutput()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		firstErr = fmt.Errorf("cannot unmount %s: %s", dir, OneLine(msg))
		break
	}
	if os.Geteuid() == 0 {
		flags := 0
		if lazy {
			flags = syscall.MNT_DETACH
		}
		err := syscall.Unmount(target, flags)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("cannot unmount %s: it is busy (files are open or a process is in it); use --lazy to detach it anyway", dir)
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("cannot unmount %s: %w", dir, err)
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("cannot unmount %s: fusermount3 (or fusermount) not found and not running as root", dir)
	}
	return firstErr
}
