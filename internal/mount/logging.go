package mount

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bucketfs/bucketfs/internal/cli"
)

// NewLogger returns the process logger: slog's text format on w, at debug
// level when debug is set and info otherwise. A nil w discards everything
// (--no-log, or a background mount without --log-directory).
func NewLogger(w io.Writer, debug bool) *slog.Logger {
	if w == nil {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// createLogFile creates dir if needed and a new file bucketfs-<UTC timestamp>.log
// in it, readable by the owner only (logs name objects and paths). An existing
// file is never reused: a numbered name is tried instead.
func createLogFile(dir string, now time.Time) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create log directory %s: %w", dir, cli.UnwrapPath(err))
	}
	base := "bucketfs-" + now.UTC().Format("2006-01-02T15-04-05Z")
	for i := 0; i < 100; i++ {
		name := base + ".log"
		if i > 0 {
			name = fmt.Sprintf("%s.%d.log", base, i)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot create a log file in %s: %w", dir, cli.UnwrapPath(err))
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot create a log file in %s: too many log files named %s*", dir, base)
}
