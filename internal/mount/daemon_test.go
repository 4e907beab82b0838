package mount

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/cli"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// testModeEnv chooses what the background process of these tests does.
const testModeEnv = "BUCKETFS_TEST_MODE"

// TestMain lets the test binary play the background process: Run re-executes
// os.Executable (this binary) with ChildEnv set, and the child then runs the
// real RunChild with a fake mount step chosen by testModeEnv.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(testChild())
	}
	os.Exit(m.Run())
}

func testChild() int {
	parse := func() (*cli.MountConfig, error) {
		inv, err := cli.Parse(os.Args[0], os.Args[1:])
		if err != nil {
			return nil, err
		}
		if inv.Command != cli.CommandMount {
			return nil, fmt.Errorf("child started for command %v", inv.Command)
		}
		return inv.Mount, inv.Mount.Validate()
	}
	var mf MountFunc
	switch mode := os.Getenv(testModeEnv); mode {
	case "ok":
		// Serve until SIGTERM; leave evidence in the mount point for the test.
		mf = func(_ context.Context, cfg *cli.MountConfig, _ *slog.Logger) (Session, error) {
			s := newFakeSession()
			s.onClose = func() { _ = os.WriteFile(filepath.Join(cfg.MountPoint, "closed"), nil, 0o644) }
			pid := strconv.Itoa(os.Getpid())
			return s, os.WriteFile(filepath.Join(cfg.MountPoint, "pid"), []byte(pid), 0o644)
		}
	case "nobucket":
		mf = Real(func(context.Context, s3.Config, *slog.Logger) (objstore.Client, error) {
			return fakeClient{check: func(context.Context) error {
				return fmt.Errorf("ListObjectsV2 s3://b-1/: %w", objstore.ErrNoSuchBucket)
			}}, nil
		})
	case "crash":
		mf = func(context.Context, *cli.MountConfig, *slog.Logger) (Session, error) {
			os.Exit(3)
			return nil, nil
		}
	case "hang":
		mf = func(ctx context.Context, _ *cli.MountConfig, _ *slog.Logger) (Session, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", testModeEnv, mode)
		return 2
	}
	if err := RunChild(parse, Options{Mount: mf}); err != nil {
		return 1
	}
	return 0
}

// runBackgroundMount runs "bucketfs mount b-1 DIR args..." without -f through
// Run, with this test binary as the background process in the given mode.
func runBackgroundMount(t *testing.T, mode string, timeout time.Duration, args ...string) (dir string, stdout, stderr string, err error) {
	t.Helper()
	t.Setenv(testModeEnv, mode)
	dir = t.TempDir()
	argv := append([]string{"bucketfs", "mount", "b-1", dir}, args...)
	inv, err := cli.Parse(argv[0], argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = Run(context.Background(), inv.Mount, Options{
		Mount: func(context.Context, *cli.MountConfig, *slog.Logger) (Session, error) {
			panic("the parent must not mount")
		},
		Stdout:       &out,
		Stderr:       &errOut,
		Args:         argv,
		ReadyTimeout: timeout,
	})
	return dir, out.String(), errOut.String(), err
}

func TestBackgroundMountReady(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "logs") // created on demand
	dir, stdout, _, err := runBackgroundMount(t, "ok", 10*time.Second, "--log-directory", logDir, "--debug")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "bucket b-1 is mounted at " + dir + "\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	// Run returned, and the background process is still serving.
	pidText, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatalf("no pid from the background process: %v", err)
	}
	pid, _ := strconv.Atoi(string(pidText))
	if pid == os.Getpid() || pid <= 0 {
		t.Fatalf("mount ran in pid %d, the test is %d", pid, os.Getpid())
	}
	if sid, err := sessionOf(pid); err != nil || sid != pid {
		t.Errorf("background process session = %d (%v), want its own session %d", sid, err, pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "closed")); err == nil {
		t.Fatal("the background process stopped before being signalled")
	}

	// SIGTERM unmounts and shuts down cleanly.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the background process to shut down", func() bool {
		_, err := os.Stat(filepath.Join(dir, "closed"))
		return err == nil
	})

	logs, _ := filepath.Glob(filepath.Join(logDir, "bucketfs-*.log"))
	if len(logs) != 1 {
		t.Fatalf("log files %v, want one", logs)
	}
	waitFor(t, "the log to record the shutdown", func() bool {
		b, _ := os.ReadFile(logs[0])
		return strings.Contains(string(b), "msg=stopped")
	})
	b, _ := os.ReadFile(logs[0])
	for _, want := range []string{"level=INFO msg=\"mounting bucket b-1\"", "level=DEBUG msg=configuration", "is mounted", "received terminated; unmounting"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
	if st, err := os.Stat(logs[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode = %v (%v), want 0600", st.Mode(), err)
	}
}

func TestBackgroundMountFailures(t *testing.T) {
	tests := []struct {
		name, mode string
		args       []string
		timeout    time.Duration
		want       string // error message, or its start when ending in "..."
	}{
		{"bucket does not exist", "nobucket", nil, 10 * time.Second, `bucket "b-1" does not exist`},
		{"process dies without a report", "crash", nil, 10 * time.Second, "the file-system process exited before the mount was ready (exit status 3)"},
		{"crash names the log file", "crash", []string{"-l", "LOGDIR"}, 10 * time.Second, "the file-system process exited before the mount was ready (exit status 3); see LOGDIR/bucketfs-..."},
		{"no report in time", "hang", nil, 500 * time.Millisecond, "timed out after 500ms waiting for the mount to become ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := t.TempDir()
			for i := range tt.args {
				tt.args[i] = strings.ReplaceAll(tt.args[i], "LOGDIR", logDir)
			}
			start := time.Now()
			_, stdout, _, err := runBackgroundMount(t, tt.mode, tt.timeout, tt.args...)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			want := strings.ReplaceAll(tt.want, "LOGDIR", logDir)
			if head, ok := strings.CutSuffix(want, "..."); ok {
				if !strings.HasPrefix(err.Error(), head) {
					t.Errorf("error = %q, want it to start with %q", err, head)
				}
			} else if err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if d := time.Since(start); d > tt.timeout+exitGrace {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestBackgroundMountWarnings(t *testing.T) {
	_, _, stderr, err := runBackgroundMount(t, "crash", 10*time.Second, "--metadata-ttl", "0")
	if err == nil {
		t.Fatal("Run succeeded")
	}
	if !strings.HasPrefix(stderr, "bucketfs: warning: '--metadata-ttl 0' is interpreted as 'minimal'") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestParseReport(t *testing.T) {
	tests := []struct {
		line string
		want error
		msg  string
	}{
		{"ok\n", nil, ""},
		{"error: bucket \"x\" does not exist\n", &reportedError{}, `bucket "x" does not exist`},
		{"", errNoReport, ""},
		{"ok", errNoReport, ""},
		{"okay\n", errors.New(""), `unexpected report from the file-system process: "okay"`},
	}
	for _, tt := range tests {
		err := parseReport(tt.line)
		switch want := tt.want.(type) {
		case nil:
			if err != nil {
				t.Errorf("parseReport(%q) = %v, want nil", tt.line, err)
			}
			continue
		case *reportedError:
			var re *reportedError
			if !errors.As(err, &re) {
				t.Errorf("parseReport(%q) = %v, want a reported error", tt.line, err)
			}
		default:
			if want == errNoReport && err != errNoReport {
				t.Errorf("parseReport(%q) = %v, want errNoReport", tt.line, err)
			}
		}
		if tt.msg != "" && (err == nil || err.Error() != tt.msg) {
			t.Errorf("parseReport(%q) = %v, want %q", tt.line, err, tt.msg)
		}
	}
}

func TestWriteReport(t *testing.T) {
	var b bytes.Buffer
	writeReport(&b, nil)
	writeReport(&b, errors.New("first line\nsecond\tline "))
	if got, want := b.String(), "ok\nerror: first line second line\n"; got != want {
		t.Errorf("reports = %q, want %q", got, want)
	}
	// What one side writes, the other reads back.
	for _, err := range []error{nil, errors.New("x: y")} {
		var b bytes.Buffer
		writeReport(&b, err)
		got := parseReport(b.String())
		if (err == nil) != (got == nil) || (err != nil && got.Error() != err.Error()) {
			t.Errorf("round trip of %v gave %v", err, got)
		}
	}
}

func TestWaitReadyInterrupted(t *testing.T) {
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitReady(ctx, r, time.Minute); err == nil || !strings.HasPrefix(err.Error(), "interrupted") {
		t.Errorf("waitReady = %v", err)
	}
}

func TestCreateLogFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var names []string
	for i := 0; i < 3; i++ {
		f, err := createLogFile(dir, now)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		names = append(names, filepath.Base(f.Name()))
	}
	want := []string{"bucketfs-2026-01-02T03-04-05Z.log", "bucketfs-2026-01-02T03-04-05Z.1.log", "bucketfs-2026-01-02T03-04-05Z.2.log"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("log files %v, want %v", names, want)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := createLogFile(file, now); err == nil || !strings.HasPrefix(err.Error(), "cannot create log directory "+file) {
		t.Errorf("createLogFile in a file = %v", err)
	}
}

// sessionOf reads the session id of pid from /proc/PID/stat.
func sessionOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid pgrp session ..."; comm may contain spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 4 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.Atoi(f[3])
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
