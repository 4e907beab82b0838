package csi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	mountutils "k8s.io/mount-utils"

	"github.com/bucketfs/bucketfs/internal/mountinfo"
)

// FSType is the type of a bucketfs mount in the mount table (FUSE, subtype bucketfs).
const FSType = "fuse.bucketfs"

// Mounter performs and inspects mounts: every side effect of the node
// service on the machine goes through it, so that the handling of requests
// is tested without mounting.
type Mounter interface {
	// Mount runs "bucketfs mount ARGS..." and returns once the mount is live
	// or has failed (a *MountError when bucketfs said why).
	Mount(ctx context.Context, args []string) error
	// Unmount unmounts the file system mounted at target.
	Unmount(ctx context.Context, target string) error
	// MountAt describes the topmost mount at target, nil when target is not
	// a mount point.
	MountAt(target string) (*MountPoint, error)
}

// MountPoint is what the mount table says about a mount point.
type MountPoint struct {
	Source   string // "s3://bucket" or "s3://bucket/prefix/" for bucketfs
	FSType   string // FSType for bucketfs
	ReadOnly bool
	// Broken: the mount is there but does not answer (its file-system
	// process is gone: ENOTCONN and the like).
	Broken bool
}

// MountError is a failed "bucketfs mount": its exit code (2 for a mistake
// in the arguments, 1 for anything else) and its one-line message.
type MountError struct {
	ExitCode int
	Message  string
}

func (e *MountError) Error() string { return e.Message }

// SystemMounter is the real Mounter: it runs the bucketfs binary with the
// driver's environment (credentials, AWS_REGION...), unmounts with
// umount(2) and reads /proc/self/mountinfo.
type SystemMounter struct {
	// Path of the bucketfs binary.
	Path string
	// Env is the mounts' environment. Default (nil): the driver's own.
	Env []string
	// StatTimeout bounds the check that a mount answers. Default 10 s.
	StatTimeout time.Duration
}

// Mount runs "bucketfs mount ARGS...". bucketfs detaches the file-system
// process in its own session, so it outlives this call and the driver.
func (m *SystemMounter) Mount(ctx context.Context, args []string) error {
	cmd := exec.CommandContext(ctx, m.Path, append([]string{"mount"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout = nil // the "mounted" line is not needed
	cmd.Stderr = &stderr
	env := m.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = withoutDaemonMarker(env)
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		msg := lastLine(stderr.String())
		if msg == "" {
			msg = ee.String()
		}
		return &MountError{ExitCode: ee.ExitCode(), Message: strings.TrimPrefix(msg, "bucketfs: ")}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("bucketfs mount did not finish: %w", ctx.Err())
	}
	return fmt.Errorf("cannot run %s: %w", m.Path, err)
}

// Unmount unmounts target with umount(2) (the driver runs as root).
func (m *SystemMounter) Unmount(_ context.Context, target string) error {
	err := syscall.Unmount(target, 0)
	if errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("%s is busy (files are open or a process is in it)", target)
	}
	if err != nil {
		return fmt.Errorf("umount %s: %w", target, err)
	}
	return nil
}

// MountAt reads /proc/self/mountinfo and, for a mount point, checks that it answers.
func (m *SystemMounter) MountAt(target string) (*MountPoint, error) {
	infos, err := mountutils.ParseMountInfo(mountinfo.Path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the mount table: %w", err)
	}
	mp := findMount(infos, target)
	if mp == nil {
		return nil, nil
	}
	timeout := m.StatTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	mp.Broken = !answers(target, timeout)
	return mp, nil
}

// findMount returns the topmost (last) mount at target. mount-utils leaves
// the table's octal escapes in place.
func findMount(infos []mountutils.MountInfo, target string) *MountPoint {
	var found *MountPoint
	for _, in := range infos {
		if mountinfo.Unescape(in.MountPoint) != target {
			continue
		}
		mp := &MountPoint{Source: mountinfo.Unescape(in.Source), FSType: in.FsType}
		for _, o := range in.MountOptions {
			if o == "ro" {
				mp.ReadOnly = true
			}
		}
		found = mp
	}
	return found
}

// answers stats dir, at most timeout: a FUSE mount whose process is gone
// fails (ENOTCONN), one whose process hangs does not answer.
func answers(dir string, timeout time.Duration) bool {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stat(dir)
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil || !mountutils.IsCorruptedMnt(err)
	case <-time.After(timeout):
		return false
	}
}

// redactArgs replaces the user:password part of URLs in args (an
// endpoint-url may carry one), so that the arguments can be logged.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		prefix, raw, ok := strings.Cut(a, "=")
		if !ok {
			prefix, raw = "", a
		} else {
			prefix += "="
		}
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			out[i] = prefix + u.String()
		}
	}
	return out
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// withoutDaemonMarker drops bucketfs's background-process marker, which
// would make the mount command act as its own background process.
func withoutDaemonMarker(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "BUCKETFS_DAEMON_CHILD=") {
			out = append(out, kv)
		}
	}
	return out
}
