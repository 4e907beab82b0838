package mount

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/cli"
)

const (
	// ChildEnv marks the background process: BUCKETFS_DAEMON_CHILD=1.
	ChildEnv = "BUCKETFS_DAEMON_CHILD"
	// ReadyFD is the background process's descriptor for its report.
	ReadyFD = 3
	// DefaultReadyTimeout is how long "bucketfs mount" waits for the report.
	DefaultReadyTimeout = 30 * time.Second
	// exitGrace is how long a failed child is given to exit after a report or a SIGTERM.
	exitGrace = 5 * time.Second
)

// Options are the process-level parts of Run and RunChild.
type Options struct {
	// Mount performs the mount (Real(s3 factory) in production).
	Mount MountFunc
	// Stdout receives the "... is mounted at DIR" line; Stderr the foreground
	// logs and warnings. Defaults: os.Stdout, os.Stderr.
	Stdout, Stderr io.Writer
	// Executable and Args are what the background process runs: this binary
	// (os.Executable) and the same argv (os.Args, argv[0] included, so that a
	// binary invoked as "mount-s3" is re-invoked so).
	Executable string
	Args       []string
	// ReadyTimeout bounds the wait for the background process's report.
	// Default: DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Args == nil {
		o.Args = os.Args
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("cannot find the bucketfs executable to start the background process: %w", err)
		}
		o.Executable = exe
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	return o, nil
}

// IsChild reports whether this process is a background mount process started by Run.
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// Run mounts cfg (validated by the caller). With cfg.Foreground it serves in
// this process until unmounted, logging to stderr. Otherwise it starts the
// background process and returns once that reports the mount live (nil) or
// failed (its reason). Either way it prints "... is mounted at DIR" on Stdout
// when the mount is live.
func Run(ctx context.Context, cfg *cli.MountConfig, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	mounted := func() { fmt.Fprintf(opts.Stdout, "%s is mounted at %s\n", cfg.Description(), cfg.MountPoint) }
	if cfg.Foreground {
		return runForeground(ctx, cfg, opts, mounted)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(opts.Stderr, "bucketfs: warning: %s\n", w)
	}
	if err := runBackground(ctx, cfg, opts); err != nil {
		return err
	}
	mounted()
	return nil
}

func runForeground(ctx context.Context, cfg *cli.MountConfig, opts Options, mounted func()) error {
	var w io.Writer = opts.Stderr
	if cfg.LogDirectory != "" {
		f, err := createLogFile(cfg.LogDirectory, time.Now())
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(opts.Stderr, f)
	}
	if cfg.NoLog {
		w = nil
	}
	// A closed stderr pipe must not kill the file system with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return Serve(ctx, cfg, opts.Mount, NewLogger(w, cfg.Debug), sigs, func(err error) {
		if err == nil {
			mounted()
		}
	})
}

// runBackground starts the background process and waits for its report.
func runBackground(ctx context.Context, cfg *cli.MountConfig, opts Options) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	logHint := ""
	if cfg.LogDirectory != "" {
		f, err := createLogFile(cfg.LogDirectory, time.Now())
		if err != nil {
			return err
		}
		defer f.Close()
		out, logHint = f, "; see "+f.Name()
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("cannot start the file-system process: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        opts.Executable,
		Args:        opts.Args,
		Env:         append(withoutEnv(os.Environ(), ChildEnv), ChildEnv+"=1"),
		Stdout:      out,
		Stderr:      out,
		ExtraFiles:  []*os.File{w}, // becomes ReadyFD
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close() // the child holds the only write end now: its exit means EOF
	if err != nil {
		return fmt.Errorf("cannot start the file-system process: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	err = waitReady(ctx, r, opts.ReadyTimeout)
	var reported *reportedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &reported):
		waitExit(exited, exitGrace)
		return err
	case errors.Is(err, errNoReport):
		select {
		case werr := <-exited:
			return fmt.Errorf("the file-system process exited before the mount was ready (%s)%s", exitDescription(werr), logHint)
		case <-time.After(exitGrace):
			return fmt.Errorf("the file-system process closed its status pipe without a report%s", logHint)
		}
	default: // timed out or interrupted: stop the child, which unmounts if it got that far
		terminate(cmd.Process, exited)
		return fmt.Errorf("%w%s", err, logHint)
	}
}

// RunChild is the background process: it reports on ReadyFD, then serves.
// parse re-reads the command line (the same as the parent's) and validates it;
// its errors are reported like mount errors.
func RunChild(parse func() (*cli.MountConfig, error), opts Options) error {
	report := os.NewFile(ReadyFD, "bucketfs-ready")
	syscall.CloseOnExec(ReadyFD) // no helper (fusermount3 with auto_unmount) may hold it
	os.Unsetenv(ChildEnv)
	done := false
	ready := func(err error) {
		if !done {
			done = true
			writeReport(report, err)
			report.Close()
		}
	}
	cfg, err := parse()
	if err != nil {
		ready(err)
		return err
	}
	_ = os.Chdir("/") // do not keep the caller's directory busy
	var w io.Writer
	if cfg.LogDirectory != "" {
		w = os.Stderr // the log file the parent opened
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return Serve(context.Background(), cfg, opts.Mount, NewLogger(w, cfg.Debug), sigs, ready)
}

// The report protocol: one line, "ok" or "error: <reason>".

// writeReport writes the one-line report for err.
func writeReport(w io.Writer, err error) {
	if err == nil {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	_, _ = io.WriteString(w, "error: "+OneLine(err.Error())+"\n")
}

// reportedError is a failure the background process reported.
type reportedError struct{ reason string }

func (e *reportedError) Error() string { return e.reason }

// errNoReport: the report pipe closed without a line.
var errNoReport = errors.New("no report from the file-system process")

// parseReport reads one report line.
func parseReport(line string) error {
	line, complete := strings.CutSuffix(line, "\n")
	switch {
	case !complete:
		return errNoReport
	case line == "ok":
		return nil
	case strings.HasPrefix(line, "error: "):
		return &reportedError{reason: strings.TrimPrefix(line, "error: ")}
	default:
		return fmt.Errorf("unexpected report from the file-system process: %q", line)
	}
}

// waitReady reads the report from r, for at most timeout.
func waitReady(ctx context.Context, r io.Reader, timeout time.Duration) error {
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- line
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line := <-lines:
		return parseReport(line)
	case <-t.C:
		return fmt.Errorf("timed out after %v waiting for the mount to become ready", timeout)
	case <-ctx.Done():
		return errors.New("interrupted while waiting for the mount to become ready")
	}
}

// terminate stops a child that did not report: SIGTERM (it then unmounts
// cleanly if it had mounted), SIGKILL after exitGrace.
func terminate(p *os.Process, exited <-chan error) {
	_ = p.Signal(syscall.SIGTERM)
	if waitExit(exited, exitGrace) {
		return
	}
	_ = p.Kill()
	waitExit(exited, exitGrace)
}

// waitExit waits at most d for the child's exit and reports whether it came.
func waitExit(exited <-chan error, d time.Duration) bool {
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// exitDescription describes how the child ended.
func exitDescription(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	default:
		return err.Error()
	}
}

// withoutEnv returns env without any NAME=... entry.
func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
