package mount

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/cli"
)

func testConfig(t *testing.T, args ...string) *cli.MountConfig {
	t.Helper()
	c, err := cli.ParseMount(append([]string{"b-1", t.TempDir()}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// readyRecorder records the calls of a Serve ready callback.
type readyRecorder struct {
	mu    sync.Mutex
	calls []error
	first chan struct{}
}

func newReadyRecorder() *readyRecorder { return &readyRecorder{first: make(chan struct{})} }

func (r *readyRecorder) ready(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, err)
	if len(r.calls) == 1 {
		close(r.first)
	}
}

func (r *readyRecorder) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.first:
	case <-time.After(5 * time.Second):
		t.Fatal("ready was not called")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[0]
}

func (r *readyRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// serveAsync runs Serve in a goroutine and returns its result channel.
func serveAsync(ctx context.Context, cfg *cli.MountConfig, mf MountFunc, sigs chan os.Signal, rec *readyRecorder) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, mf, discard(), sigs, rec.ready) }()
	return done
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func TestServe(t *testing.T) {
	busy := errors.New("device or resource busy")
	tests := []struct {
		name        string
		unmountErrs []error
		stop        func(sigs chan os.Signal, cancel context.CancelFunc, s *fakeSession)
		unmounts    int
	}{
		{"SIGTERM unmounts", nil, func(sigs chan os.Signal, _ context.CancelFunc, _ *fakeSession) { sigs <- syscall.SIGTERM }, 1},
		{"SIGINT unmounts", nil, func(sigs chan os.Signal, _ context.CancelFunc, _ *fakeSession) { sigs <- os.Interrupt }, 1},
		{"context end unmounts", nil, func(_ chan os.Signal, cancel context.CancelFunc, _ *fakeSession) { cancel() }, 1},
		{"unmounted from outside", nil, func(_ chan os.Signal, _ context.CancelFunc, s *fakeSession) { s.unmountFromOutside() }, 0},
		{"busy mount keeps serving until the next signal", []error{busy}, func(sigs chan os.Signal, _ context.CancelFunc, _ *fakeSession) {
			sigs <- syscall.SIGTERM
			sigs <- syscall.SIGTERM
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := newFakeSession(tt.unmountErrs...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigs := make(chan os.Signal) // unbuffered: a send returns once Serve took it
			rec := newReadyRecorder()
			mf := func(context.Context, *cli.MountConfig, *slog.Logger) (Session, error) { return sess, nil }
			done := serveAsync(ctx, testConfig(t), mf, sigs, rec)
			if err := rec.wait(t); err != nil {
				t.Fatalf("ready(%v), want nil", err)
			}
			if sess.closed.Load() {
				t.Fatal("session closed while mounted")
			}
			tt.stop(sigs, cancel, sess)
			if err := result(t, done); err != nil {
				t.Fatalf("Serve = %v, want nil", err)
			}
			if !sess.closed.Load() {
				t.Error("session not closed after unmount: uploads would not be aborted")
			}
			if got := sess.unmountCount(); got != tt.unmounts {
				t.Errorf("%d unmount calls, want %d", got, tt.unmounts)
			}
			if rec.count() != 1 {
				t.Errorf("ready called %d times, want 1", rec.count())
			}
		})
	}
}

func TestServeMountFails(t *testing.T) {
	want := errors.New(`bucket "b-1" does not exist`)
	rec := newReadyRecorder()
	mf := func(context.Context, *cli.MountConfig, *slog.Logger) (Session, error) { return nil, want }
	err := result(t, serveAsync(context.Background(), testConfig(t), mf, make(chan os.Signal), rec))
	if err != want {
		t.Errorf("Serve = %v, want %v", err, want)
	}
	if got := rec.wait(t); got != want || rec.count() != 1 {
		t.Errorf("ready got %v (%d calls), want %v once", got, rec.count(), want)
	}
}

// TestServeSignalWhileMounting: a signal during the mount step cancels it, and
// a mount that completes anyway is taken down again.
func TestServeSignalWhileMounting(t *testing.T) {
	for _, completes := range []bool{false, true} {
		sess := newFakeSession()
		started := make(chan struct{})
		mf := func(ctx context.Context, _ *cli.MountConfig, _ *slog.Logger) (Session, error) {
			close(started)
			<-ctx.Done()
			if completes {
				return sess, nil
			}
			return nil, ctx.Err()
		}
		sigs := make(chan os.Signal)
		rec := newReadyRecorder()
		done := serveAsync(context.Background(), testConfig(t), mf, sigs, rec)
		<-started
		sigs <- syscall.SIGTERM
		err := result(t, done)
		if err == nil || err.Error() != "interrupted by terminated while mounting" {
			t.Errorf("completes=%v: Serve = %v", completes, err)
		}
		if got := rec.wait(t); got == nil {
			t.Errorf("completes=%v: ready(nil) after an interrupted mount", completes)
		}
		if completes && (sess.unmountCount() != 1 || !sess.closed.Load()) {
			t.Errorf("late mount not taken down: %d unmounts, closed=%v", sess.unmountCount(), sess.closed.Load())
		}
	}
}
