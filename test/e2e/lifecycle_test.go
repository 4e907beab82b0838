package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMountReturnsOnceLiveAndUnmounts(t *testing.T) {
	for _, how := range []string{"bucketfs", "umount", "fusermount3"} {
		t.Run(how, func(t *testing.T) {
			m := mount(t, map[string]string{"f.txt": "x"})
			if len(daemonsFor(m.dir)) == 0 {
				t.Fatal("no bucketfs process serves the mount")
			}
			// The mount is serving the moment `bucketfs mount` returned.
			if out := m.mustSh("cat f.txt"); out != "x" {
				t.Fatalf("cat = %q", out)
			}
			var cmd *exec.Cmd
			switch how {
			case "bucketfs":
				cmd = exec.Command(bin, "unmount", m.dir)
			case "umount":
				cmd = exec.Command("umount", m.dir)
			default:
				cmd = exec.Command("fusermount3", "-u", m.dir)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", how, err, out)
			}
			if isMounted(m.dir) {
				t.Fatal("still mounted")
			}
			waitNoDaemon(t, m.dir)
		})
	}
}

// waitNoDaemon waits until no bucketfs process serves dir any more.
func waitNoDaemon(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(daemonsFor(dir)) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("bucketfs process for %s still running after unmount: %v", dir, daemonsFor(dir))
}

// daemonsFor lists pids of bucketfs processes whose arguments name dir.
func daemonsFor(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmtSscan(e.Name(), &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && args[0] == bin {
			for _, a := range args {
				if a == dir {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

func TestForegroundAndSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			srv, bucket, _ := newBucket(t, map[string]string{"f.txt": "x"})
			dir := t.TempDir()
			args := append([]string{"mount", bucket, dir, "-f"}, mountArgs(srv)...)
			cmd := exec.Command(bin, args...)
			cmd.Env = srv.Env()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); unmount(t, dir) })
			deadline := time.Now().Add(30 * time.Second)
			for !isMounted(dir) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if !isMounted(dir) {
				t.Fatalf("not mounted after 30 s; stderr: %s", stderr.String())
			}
			if b, err := os.ReadFile(filepath.Join(dir, "f.txt")); err != nil || string(b) != "x" {
				t.Fatalf("read through foreground mount: %q, %v", b, err)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %v: %v; stderr: %s", sig, err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still running 20 s after %v", sig)
			}
			if isMounted(dir) {
				t.Fatalf("still mounted after %v", sig)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := run(t, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "bucketfs ") {
		t.Fatalf("--version: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "mount", "--help")
	if r.code != 0 {
		t.Fatalf("mount --help exited %d: %s", r.code, r.stderr)
	}
	help := r.stdout + r.stderr
	for _, flag := range []string{"--prefix", "--region", "--endpoint-url", "--force-path-style", "--read-only",
		"--allow-delete", "--allow-overwrite", "--auto-unmount", "--allow-root", "--allow-other", "--uid", "--gid",
		"--dir-mode", "--file-mode", "--foreground", "--profile", "--no-sign-request", "--requester-pays",
		"--expected-bucket-owner", "--storage-class", "--sse", "--sse-kms-key-id", "--upload-checksums",
		"--metadata-ttl", "--negative-metadata-ttl", "--part-size", "--read-part-size", "--write-part-size",
		"--max-threads", "--ca-bundle", "--user-agent-prefix", "--log-directory", "--debug", "--no-log"} {
		// One line each: the flag starts exactly one line of the help.
		line := regexp.MustCompile(`(?m)^\s+(-\w, )?` + regexp.QuoteMeta(flag) + `( |$)`)
		if n := len(line.FindAllString(help, -1)); n != 1 {
			t.Errorf("mount --help has %d lines for %s, want 1", n, flag)
		}
	}
}

// TestClearErrors: every mistake gets exit ≠ 0 and one line naming the cause, within 30 s.
func TestClearErrors(t *testing.T) {
	srv, bucket, _ := newBucket(t, nil)
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(file, nil, 0o644)
	badCreds := append(append([]string{}, srv.Env()...), "AWS_SECRET_ACCESS_KEY=wrong-secret")
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"missing bucket", srv.Env(), append([]string{"mount", "no-such-bucket-e2e", dir}, mountArgs(srv)...), "does not exist"},
		{"rejected credentials", badCreds, append([]string{"mount", bucket, dir}, mountArgs(srv)...), "denied"},
		{"unreachable endpoint", srv.Env(), []string{"mount", bucket, dir, "--endpoint-url", "http://127.0.0.1:1", "--force-path-style", "--region", "us-east-1"}, "127.0.0.1:1"},
		{"missing mount point", srv.Env(), append([]string{"mount", bucket, "/nonexistent/mnt"}, mountArgs(srv)...), "does not exist"},
		{"mount point not a directory", srv.Env(), append([]string{"mount", bucket, file}, mountArgs(srv)...), "not a directory"},
		{"unknown flag", srv.Env(), append([]string{"mount", bucket, dir, "--no-such-flag"}, mountArgs(srv)...), "--no-such-flag"},
		{"bad flag value", srv.Env(), append([]string{"mount", bucket, dir, "--uid", "abc"}, mountArgs(srv)...), "--uid"},
		// Refused before any request: the unreachable endpoint is never tried.
		{"bad bucket name", srv.Env(), []string{"mount", "Bad_Bucket!", dir, "--endpoint-url", "http://127.0.0.1:1"}, "invalid bucket name"},
		{"missing arguments", srv.Env(), []string{"mount", bucket}, "usage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q", r.stdout)
			}
			msg := strings.TrimRight(r.stderr, "\n")
			if strings.Count(msg, "\n") != 0 || msg == "" {
				t.Fatalf("want one line on stderr, got %q", r.stderr)
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(c.want)) {
				t.Fatalf("stderr %q does not name the cause (%q)", msg, c.want)
			}
			if r.took > 30*time.Second {
				t.Fatalf("took %v", r.took)
			}
			if isMounted(dir) {
				unmount(t, dir)
				t.Fatal("a failed mount left a mount behind")
			}
		})
	}
}

func TestUploadFailureIsEIOAtClose(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	proxy := newCutProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	dir := t.TempDir()
	args := []string{"mount", bucket, dir, "--endpoint-url", "http://" + proxy.Addr(), "--force-path-style", "--region", srv.Region}
	env := append(append([]string{}, srv.Env()...), "AWS_MAX_ATTEMPTS=1")
	if r := run(t, env, args...); r.code != 0 {
		t.Fatalf("mount: %s", r.stderr)
	}
	t.Cleanup(func() { unmount(t, dir) })
	m := &mnt{t: t, srv: srv, bucket: bucket, dir: dir, s3: c}
	for _, size := range []int{1000, 12 << 20} {
		name := filepath.Join(dir, "lost-"+strings.Repeat("x", size%7))
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(randomBytes(t, size)); err != nil && size < 8<<20 {
			t.Fatal(err)
		}
		proxy.Cut()
		werr := f.Close()
		proxy.Restore()
		wantErrno(t, "close while S3 is unreachable", werr, syscall.EIO)
	}
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("partial objects: %v", keys)
	}
}

// A writing program killed with SIGKILL: the kernel closes its file, and that
// close must not publish the half-written object.
func TestKilledWriterLeavesNoObject(t *testing.T) {
	m := mount(t, nil)
	cmd := exec.Command("dd", "if=/dev/urandom", "of="+m.path("half.bin"), "bs=1M", "count=200")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := os.Stat(m.path("half.bin")); err == nil && st.Size() >= 12<<20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := os.Stat(m.path("half.bin")); err != nil || st.Size() < 12<<20 || st.Size() >= 200<<20 {
		t.Fatalf("dd did not get part way: %v %v", st, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(300 * time.Millisecond) // the kernel's release of the killed process's file
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("objects after the writer was killed: %v", keys)
	}
	if _, err := os.Stat(m.path("half.bin")); !os.IsNotExist(err) {
		t.Fatalf("stat after the writer was killed: %v", err)
	}
}

// The bucketfs process itself killed mid-upload: nothing is completed.
func TestSIGKILLMidWriteLeavesNoObject(t *testing.T) {
	m := mount(t, nil)
	f, err := os.Create(m.path("killed.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(t, 20<<20)); err != nil { // parts already uploading
		t.Fatal(err)
	}
	for _, pid := range daemonsFor(m.dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	f.Close()
	time.Sleep(200 * time.Millisecond)
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("objects after SIGKILL mid-write: %v", keys)
	}
	ctx := context.Background()
	_ = ctx
}

func TestAutoUnmountWhenKilled(t *testing.T) {
	m := mount(t, map[string]string{"f": "x"}, "--auto-unmount")
	pids := daemonsFor(m.dir)
	if len(pids) == 0 {
		t.Fatal("no bucketfs process found for the mount")
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for isMounted(m.dir) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if isMounted(m.dir) {
		t.Fatal("--auto-unmount: still mounted 10 s after the process was killed")
	}
}

func TestCredentialsNeverLogged(t *testing.T) {
	srv, bucket, c := newBucket(t, map[string]string{"f.txt": "x"})
	logs := t.TempDir()
	m := mountBucket(t, srv, bucket, c, bucket, "--debug", "--log-directory", logs)
	m.mustSh("cat f.txt; echo y > g.txt; ls -l; cat missing 2>/dev/null || true")
	for name, b := range unmountForLogs(t, m, logs) {
		if len(b) == 0 {
			t.Fatalf("%s is empty: --debug logged nothing", name)
		}
		if strings.Contains(b, srv.SecretKey) || strings.Contains(b, srv.AccessKey) {
			t.Fatalf("%s contains the credentials", name)
		}
	}
}

// A reader's close() sends no FLUSH (read handles open with FOPEN_NOFLUSH:
// there is nothing to flush, and cat of many files would wait for one round
// trip per file); a writer's close() still does, since it completes the upload.
func TestReaderCloseSendsNoFlush(t *testing.T) {
	srv, bucket, c := newBucket(t, map[string]string{"a.txt": "a", "b.txt": "b", "c.txt": "c"})
	logs := t.TempDir()
	m := mountBucket(t, srv, bucket, c, bucket, "--debug", "--log-directory", logs)
	if out := m.mustSh("cat a.txt b.txt c.txt; echo y > new.txt"); out != "abc" {
		t.Fatalf("cat printed %q", out)
	}
	logFiles := unmountForLogs(t, m, logs)
	// Request lines read "rx 12: OPEN n5 {...}": the node after the op.
	// go-fuse opens and flushes a probe file of its own, node 2^64-1.
	node := func(line, op string) string {
		_, rest, ok := strings.Cut(line, ": "+op+" n")
		if !ok {
			return ""
		}
		id, _, _ := strings.Cut(rest, " ")
		if id == "18446744073709551615" {
			return ""
		}
		return id
	}
	read := map[string]bool{} // nodes opened without O_CREAT: the three files cat read
	var flushed []string
	for _, b := range logFiles {
		for _, line := range strings.Split(b, "\n") {
			if id := node(line, "OPEN"); id != "" {
				read[id] = true
			}
			if id := node(line, "FLUSH"); id != "" {
				flushed = append(flushed, id)
			}
		}
	}
	if len(read) < 3 {
		t.Fatalf("the debug log shows OPEN of %d nodes for 3 files read; is FUSE logging on?", len(read))
	}
	writerFlushed := false
	for _, id := range flushed {
		if read[id] {
			t.Errorf("FLUSH of node %s, a file that was only read", id)
		} else {
			writerFlushed = true
		}
	}
	if !writerFlushed {
		t.Errorf("no FLUSH for the written file (flushed nodes %v): its close() must complete the upload", flushed)
	}
}
