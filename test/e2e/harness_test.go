// Package e2e mounts the real bucketfs binary through FUSE against a real
// MinIO and drives it the way users do: with shell tools and plain file
// APIs, checking the bucket from the other side with an S3 client.
//
// It needs root (or fusermount3 rights), /dev/fuse and the pinned MinIO
// (scripts/install-deps.sh); `make test` arranges all three.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/mountinfo"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/testutil/miniotest"
)

var bin string // the bucketfs binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bucketfs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "bucketfs")
	build := exec.Command("go", "build", "-o", bin, "github.com/bucketfs/bucketfs/cmd/bucketfs")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building bucketfs:", err)
		os.Exit(1)
	}
	code := miniotest.RunMain(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireFUSE fails (never skips silently) when this machine cannot mount.
func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse is missing: e2e tests need FUSE (%v)", err)
	}
	if _, err := exec.LookPath("fusermount3"); err != nil && os.Geteuid() != 0 {
		t.Fatal("e2e tests need root or fusermount3 (apt-get install fuse3)")
	}
}

// result of one command.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// run runs bucketfs with args and the MinIO credentials in the environment.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bucketfs %v: %v", args, err)
	}
	return r
}

// mnt is one live mount of a fresh bucket.
type mnt struct {
	t      *testing.T
	srv    *miniotest.Server
	bucket string
	dir    string
	s3     objstore.Client // the other side: a plain S3 client on the same bucket
}

// newBucket makes a bucket and seeds it with objects (key → content).
func newBucket(t *testing.T, objects map[string]string) (*miniotest.Server, string, objstore.Client) {
	t.Helper()
	requireFUSE(t)
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	c := srv.Client(t, bucket)
	for k, v := range objects {
		if _, err := c.Put(context.Background(), objstore.PutInput{Key: k, Body: []byte(v)}); err != nil {
			t.Fatalf("seed %q: %v", k, err)
		}
	}
	return srv, bucket, c
}

// mountArgs are the flags every test mount uses to reach MinIO.
func mountArgs(srv *miniotest.Server) []string {
	return []string{"--endpoint-url", srv.Endpoint, "--force-path-style", "--region", srv.Region}
}

// mount mounts a new bucket seeded with objects, with extra flags.
func mount(t *testing.T, objects map[string]string, flags ...string) *mnt {
	t.Helper()
	srv, bucket, c := newBucket(t, objects)
	return mountBucket(t, srv, bucket, c, bucket, flags...)
}

// mountBucket mounts source (bucket or s3://bucket/prefix/) in a fresh directory.
func mountBucket(t *testing.T, srv *miniotest.Server, bucket string, c objstore.Client, source string, flags ...string) *mnt {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"mount", source, dir}, mountArgs(srv)...)
	args = append(args, flags...)
	r := run(t, srv.Env(), args...)
	if r.code != 0 {
		t.Fatalf("bucketfs mount exited %d: %s%s", r.code, r.stderr, r.stdout)
	}
	m := &mnt{t: t, srv: srv, bucket: bucket, dir: dir, s3: c}
	t.Cleanup(func() { unmount(t, dir) })
	if !isMounted(dir) {
		t.Fatalf("bucketfs mount returned 0 but %s is not mounted", dir)
	}
	return m
}

// unmount unmounts dir if it is still mounted and waits until it is gone.
func unmount(t *testing.T, dir string) {
	for i := 0; i < 50 && isMounted(dir); i++ {
		exec.Command("fusermount3", "-u", dir).Run()
		if isMounted(dir) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if isMounted(dir) {
		exec.Command("fusermount3", "-uz", dir).Run()
	}
}

// isMounted reports whether dir is a mount point of bucketfs.
func isMounted(dir string) bool {
	entries, err := mountinfo.Read()
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.MountPoint == dir && e.FSType == "fuse.bucketfs" {
			return true
		}
	}
	return false
}

// sh runs a bash script in the mount directory and returns its combined output.
func (m *mnt) sh(script string) (string, error) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = m.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustSh runs script and fails the test if it fails.
func (m *mnt) mustSh(script string) string {
	m.t.Helper()
	out, err := m.sh(script)
	if err != nil {
		m.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// shFails runs script, requires it to fail, and requires its output to contain want.
func (m *mnt) shFails(script, want string) {
	m.t.Helper()
	out, err := m.sh(script)
	if err == nil {
		m.t.Fatalf("%s succeeded, want failure with %q\n%s", script, want, out)
	}
	if !strings.Contains(out, want) {
		m.t.Fatalf("%s: output %q does not contain %q", script, out, want)
	}
}

// path is the mounted path of name.
func (m *mnt) path(name string) string { return filepath.Join(m.dir, name) }

// object returns an object's bytes from the bucket, or ok=false.
func (m *mnt) object(key string) ([]byte, bool) {
	m.t.Helper()
	out, err := m.s3.Get(context.Background(), objstore.GetInput{Key: key, Length: -1})
	if err != nil {
		if objNotFound(err) {
			return nil, false
		}
		m.t.Fatalf("get %q: %v", key, err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		m.t.Fatal(err)
	}
	return b.Bytes(), true
}

// keys lists every key in the bucket.
func (m *mnt) keys() []string {
	m.t.Helper()
	var keys []string
	token := ""
	for {
		out, err := m.s3.List(context.Background(), objstore.ListInput{ContinuationToken: token})
		if err != nil {
			m.t.Fatal(err)
		}
		for _, o := range out.Objects {
			keys = append(keys, o.Key)
		}
		if out.NextContinuationToken == "" {
			return keys
		}
		token = out.NextContinuationToken
	}
}

// put writes an object from the other side.
func (m *mnt) put(key, body string) {
	m.t.Helper()
	if _, err := m.s3.Put(context.Background(), objstore.PutInput{Key: key, Body: []byte(body)}); err != nil {
		m.t.Fatal(err)
	}
}

// errnoOf extracts the errno of a file-API error.
func errnoOf(err error) syscall.Errno {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return 0
		}
		err = u.Unwrap()
	}
	return 0
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if got := errnoOf(err); got != want {
		t.Fatalf("%s: error %v (errno %d), want %v", what, err, got, want)
	}
}

// unmountForLogs unmounts m, waits for its daemon to exit, and returns the
// log files it wrote to dir (its --log-directory), by name.
func unmountForLogs(t *testing.T, m *mnt, dir string) map[string]string {
	t.Helper()
	unmount(t, m.dir)
	waitNoDaemon(t, m.dir)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no log file written to %s: %v", dir, err)
	}
	logs := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		logs[e.Name()] = string(b)
	}
	return logs
}
