package mountopt

import (
	"fmt"
	"strings"
)

// Option is one option in key[=value] form: the name of a mount flag and,
// for flags that take one, its value.
type Option struct {
	Name     string // as written, without a leading "--"
	Value    string
	HasValue bool
}

// String shows o as the user wrote it, in key=value form.
func (o Option) String() string {
	if o.HasValue {
		return o.Name + "=" + o.Value
	}
	return o.Name
}

// Error is a mistake in one option. Option is the option's name as written,
// so that callers can name it (the CSI driver puts it in InvalidArgument).
type Error struct {
	Option string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(option, format string, args ...any) error {
	return &Error{Option: option, Msg: fmt.Sprintf(format, args...)}
}

// Canonical is the flag name an option name stands for: without a leading
// "--", with '_' read as '-' (FUSE's spelling: allow_other, auto_unmount).
func Canonical(name string) string {
	return strings.ReplaceAll(strings.TrimPrefix(name, "--"), "_", "-")
}

// Flag returns the command-line word of o, "--name" or "--name=value",
// after checking that o names a mount flag and has a value exactly when the
// flag takes one. The value itself is checked later, by the mount command.
func (o Option) Flag() (string, error) {
	name := Canonical(o.Name)
	f, ok := Lookup(name)
	switch {
	case !ok && UnsupportedMountS3[name]:
		return "", errorf(o.Name, "option %q is a mount-s3 option that bucketfs does not support", o.Name)
	case !ok:
		return "", errorf(o.Name, "unknown option %q: not a bucketfs mount option (see 'bucketfs mount --help')", o.Name)
	case f.Arg == "" && o.HasValue:
		return "", errorf(o.Name, "option %q takes no value (got %q)", o.Name, o.String())
	case f.Arg == "":
		return "--" + name, nil
	case !o.HasValue || o.Value == "":
		return "", errorf(o.Name, "option %q needs a value, as in \"%s=%s\"", o.Name, name, f.Arg)
	default:
		return "--" + name + "=" + o.Value, nil
	}
}

// ParseItem parses one option of a list such as a PersistentVolume's
// mountOptions: "allow-delete", "uid=1000", "region us-east-1" (name and
// value separated by the first '=' or blank, whichever comes first), with or
// without a leading "--".
func ParseItem(item string) (Option, error) {
	s := strings.TrimSpace(item)
	if s == "" {
		return Option{}, errorf(item, "empty mount option")
	}
	s = strings.TrimPrefix(s, "--")
	i := strings.IndexAny(s, "= \t")
	if i < 0 {
		return Option{Name: s}, nil
	}
	return Option{Name: s[:i], Value: strings.TrimSpace(s[i+1:]), HasValue: true}, nil
}
