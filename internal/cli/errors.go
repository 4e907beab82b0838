package cli

import (
	"errors"
	"fmt"
)

// UsageError is a mistake in the command line: an unknown flag, a bad value,
// flags that cannot be combined, missing arguments. Commands exit with code 2
// on a UsageError and code 1 on any other error.
type UsageError struct {
	Msg string
}

func (e *UsageError) Error() string { return e.Msg }

// usagef builds a *UsageError.
func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is (or wraps) a *UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
