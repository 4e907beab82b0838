package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cleanups run in reverse order at exit, on success, failure or a signal.
var cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func atExit(fn func()) {
	cleanups.mu.Lock()
	defer cleanups.mu.Unlock()
	cleanups.fns = append(cleanups.fns, fn)
}

func runCleanups() {
	cleanups.mu.Lock()
	fns := cleanups.fns
	cleanups.fns = nil
	cleanups.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// childEnv is the environment of every command we run: ours without AWS_*
// and MINIO_* variables (a CA bundle or profile meant for real AWS must not
// change how a peer talks to the local MinIO), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// cmdSpec is one external command, always bounded by a timeout.
type cmdSpec struct {
	name    string
	args    []string
	env     []string // nil → childEnv()
	dir     string
	stdout  io.Writer // nil → captured (tail kept for errors)
	timeout time.Duration
}

type cmdResult struct {
	elapsed time.Duration
	stdout  string // when not redirected
	stderr  string
}

// command builds an exec.Cmd in its own process group, so that a timeout or
// Ctrl-C kills the whole pipeline (sh -c 'cat dir/*' included).
func command(ctx context.Context, s cmdSpec) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.name, s.args...)
	cmd.Env = s.env
	if cmd.Env == nil {
		cmd.Env = childEnv()
	}
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs s to completion and times it, from start to exit.
func run(ctx context.Context, s cmdSpec) (cmdResult, error) {
	if s.timeout <= 0 {
		s.timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := command(ctx, s)
	var out, errb tailBuffer
	out.max, errb.max = 64<<10, 16<<10
	cmd.Stdout, cmd.Stderr = &out, &errb
	if s.stdout != nil {
		cmd.Stdout = s.stdout
	}
	start := time.Now()
	err := cmd.Run()
	res := cmdResult{elapsed: time.Since(start), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %v", s.timeout)
		}
		return res, fmt.Errorf("%s: %w: %s", s.name, err, lastLine(res.stderr))
	}
	return res, nil
}

// sh runs a shell command line with a timeout and returns its trimmed stdout.
func sh(ctx context.Context, timeout time.Duration, line string) (string, error) {
	r, err := run(ctx, cmdSpec{name: "sh", args: []string{"-c", line}, timeout: timeout})
	return strings.TrimSpace(r.stdout), err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; b.max > 0 && over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// counter counts bytes and lines written to it (stdout of ls and cat).
type counter struct {
	mu           sync.Mutex
	bytes, lines int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// dropCaches empties the kernel page cache, dentries and inodes. It reports
// whether that is permitted here; when it is not, fresh mounts and fresh
// opens are all that keeps caches out of the measurements.
func dropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return errors.New("drop_caches not permitted: " + err.Error())
	}
	return nil
}
