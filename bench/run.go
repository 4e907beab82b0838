package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
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

// settle waits until a second has passed since the caches were dropped:
// right after a drop every process on the machine pages its code back in,
// and that burst must not land in whichever job happens to start first.
func settle(dropped time.Time) {
	time.Sleep(time.Until(dropped.Add(time.Second)))
}

// machineCPU is a snapshot of where the machine's CPU time went: all busy
// time (/proc/stat), MinIO, the measured file system, this process and its
// waited-for children (dd, fio, ...).
type machineCPU struct {
	busy, server, fs, self, children float64
}

func snapshotCPU(serverPid, fsPid int) machineCPU {
	var m machineCPU
	for _, line := range strings.Split(readFile("/proc/stat"), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		for i, v := range f[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			if i != 3 && i != 4 && i < 8 { // all but idle and iowait; guest time is already in user
				m.busy += x / clockTick
			}
		}
	}
	m.server, _ = cpuSeconds(serverPid)
	if fsPid > 0 {
		m.fs, _ = cpuSeconds(fsPid)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		m.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return m
}

// account fills in the CPU fields of s from two snapshots: the file
// system's, MinIO's, and what every other process used meanwhile.
func account(s *sample, a, b machineCPU) {
	s.cpu = b.fs - a.fs
	s.srvCPU = b.server - a.server
	s.clientCPU = (b.self - a.self) + (b.children - a.children)
	s.otherCPU = max(0, (b.busy-a.busy)-s.cpu-s.srvCPU-s.clientCPU)
}
