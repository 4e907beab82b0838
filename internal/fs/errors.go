package fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// Error is the one error type of the file-system core. Every operation returns
// either nil or an error that Errno can classify; the FUSE adapter calls Errno
// once per reply and nowhere else decides an errno.
type Error struct {
	Errno syscall.Errno
	Msg   string     // what failed, for the log: "unlink \"a/b\": deletes are not allowed"
	Level slog.Level // how loud the log line should be
	Err   error      // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// errorf builds an *Error for an expected, user-caused condition (logged at debug).
func errorf(errno syscall.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...), Level: slog.LevelDebug}
}

// wrapf builds an *Error around a cause. The errno is derived from the cause
// by Errno unless errno is non-zero.
func wrapf(errno syscall.Errno, cause error, format string, args ...any) error {
	if errno == 0 {
		errno = causeErrno(cause)
	}
	lvl := slog.LevelWarn
	if errno == syscall.ENOENT || errno == syscall.EINTR {
		lvl = slog.LevelDebug
	}
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...), Level: lvl, Err: cause}
}

// Errno is the single mapping from errors to errno values.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var fe *Error
	if errors.As(err, &fe) && fe.Errno != 0 {
		return fe.Errno
	}
	return causeErrno(err)
}

// causeErrno classifies object-store and context errors.
func causeErrno(err error) syscall.Errno {
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return syscall.ESTALE
	case errors.Is(err, objstore.ErrAccessDenied):
		return syscall.EACCES
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, stage.ErrFull), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return syscall.ENOSPC
	default:
		return syscall.EIO
	}
}

// LogLevel tells the adapter how loudly to log err.
func LogLevel(err error) slog.Level {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Level
	}
	return slog.LevelWarn
}
