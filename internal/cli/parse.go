package cli

import (
	"errors"
	"path/filepath"
	"strings"
)

// Command is what an invocation asks for.
type Command int

// The commands.
const (
	CommandHelp Command = iota + 1
	CommandVersion
	CommandMount
	CommandUnmount
	CommandCSI
)

// Invocation is a parsed command line.
type Invocation struct {
	Command Command
	Help    string       // CommandHelp: the text to print on stdout
	Mount   *MountConfig // CommandMount
	Dir     string       // CommandUnmount: absolute path of the mount point
	Lazy    bool         // CommandUnmount: -z/--lazy

	// Set when invoked as the mount(8) helper (mount.bucketfs): Fake (-f)
	// asks to check without mounting, Verbose (-v) to print the mounted line.
	Helper, Fake, Verbose bool
}

// Sentinels ParseMount returns when -h/--help or -V/--version is among the
// mount flags; Parse turns them into CommandHelp / CommandVersion.
var (
	ErrHelp    = errors.New("help requested")
	ErrVersion = errors.New("version requested")
)

// Parse parses a whole command line (without the program name). prog is the
// name the binary was invoked as (os.Args[0]): invoked as "mount-s3", the
// arguments are those of "bucketfs mount", so bucketfs can stand in for mount-s3.
func Parse(prog string, args []string) (Invocation, error) {
	if filepath.Base(prog) == "mount-s3" {
		return parseMountInvocation(args)
	}
	if IsHelperName(prog) {
		return parseHelper(args)
	}
	if len(args) == 0 {
		return Invocation{}, usagef("missing command: use 'bucketfs mount BUCKET DIRECTORY' or 'bucketfs unmount DIRECTORY' (see 'bucketfs help')")
	}
	switch cmd := args[0]; cmd {
	case "mount":
		return parseMountInvocation(args[1:])
	case "unmount", "umount":
		return parseUnmount(args[1:])
	case "csi":
		// The CSI plugin parses its own flags (internal/csi): the caller
		// hands it the words after "csi".
		return Invocation{Command: CommandCSI}, nil
	case "--version", "-V", "version":
		return Invocation{Command: CommandVersion}, nil
	case "help", "--help", "-h":
		if len(args) > 1 {
			switch args[1] {
			case "mount":
				return Invocation{Command: CommandHelp, Help: MountHelp()}, nil
			case "unmount", "umount":
				return Invocation{Command: CommandHelp, Help: UnmountHelp()}, nil
			case "csi":
				return Invocation{Command: CommandHelp, Help: "Run 'bucketfs csi --help' for the flags of the Kubernetes CSI node plugin.\n"}, nil
			}
			return Invocation{}, usagef("no help for %q: try 'bucketfs help mount', 'bucketfs help unmount' or 'bucketfs help csi'", args[1])
		}
		return Invocation{Command: CommandHelp, Help: TopHelp()}, nil
	default:
		if strings.HasPrefix(cmd, "-") {
			return Invocation{}, usagef("unknown flag %s (see 'bucketfs help')", cmd)
		}
		return Invocation{}, usagef("unknown command %q (see 'bucketfs help')", cmd)
	}
}

func parseMountInvocation(args []string) (Invocation, error) {
	cfg, err := ParseMount(args)
	switch {
	case errors.Is(err, ErrHelp):
		return Invocation{Command: CommandHelp, Help: MountHelp()}, nil
	case errors.Is(err, ErrVersion):
		return Invocation{Command: CommandVersion}, nil
	case err != nil:
		return Invocation{}, err
	}
	return Invocation{Command: CommandMount, Mount: cfg}, nil
}

func parseUnmount(args []string) (Invocation, error) {
	raw, err := tokenize(args, newFlagTable(unmountFlags, nil), "bucketfs unmount --help")
	if err != nil {
		return Invocation{}, err
	}
	if raw.bools["help"] {
		return Invocation{Command: CommandHelp, Help: UnmountHelp()}, nil
	}
	switch len(raw.positional) {
	case 0:
		return Invocation{}, usagef("missing DIRECTORY argument: usage: bucketfs unmount DIRECTORY")
	case 1:
	default:
		return Invocation{}, usagef("unexpected argument %q: usage: bucketfs unmount DIRECTORY", raw.positional[1])
	}
	dir, err := absPath(raw.positional[0])
	if err != nil {
		return Invocation{}, err
	}
	return Invocation{Command: CommandUnmount, Dir: dir, Lazy: raw.bools["lazy"]}, nil
}

// rawArgs is a tokenized command line: positional arguments, boolean flags
// that were given and the values of value flags, by long name.
type rawArgs struct {
	positional []string
	bools      map[string]bool
	values     map[string]string
}

func (r *rawArgs) has(name string) bool {
	_, ok := r.values[name]
	return ok
}

// tokenize splits args GNU style: "--name", "--name value", "--name=value",
// "-x", "-x value", "-xVALUE", clusters of short boolean flags ("-fd"), and
// "--" ending the options. Flags and positional arguments may be interleaved.
// A value flag given twice is an error, as in mount-s3.
func tokenize(args []string, t flagTable, helpCmd string) (*rawArgs, error) {
	r := &rawArgs{bools: map[string]bool{}, values: map[string]string{}}
	unknown := func(flag string) error {
		if t.unsupported[strings.TrimPrefix(flag, "--")] {
			return usagef("%s is a mount-s3 flag that bucketfs does not support (see '%s')", flag, helpCmd)
		}
		return usagef("unknown flag %s (see '%s')", flag, helpCmd)
	}
	set := func(s *flagSpec, value string) error {
		if _, dup := r.values[s.long]; dup {
			return usagef("--%s given more than once", s.long)
		}
		r.values[s.long] = value
		return nil
	}
	// next returns the argument after position i as a flag's value.
	next := func(i *int, s *flagSpec) (string, error) {
		if *i+1 >= len(args) || isFlag(args[*i+1]) {
			return "", usagef("flag --%s needs a value (--%s %s)", s.long, s.long, s.arg)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			r.positional = append(r.positional, args[i+1:]...)
			return r, nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			s := t.long[name]
			if s == nil {
				return nil, unknown("--" + name)
			}
			if s.arg == "" {
				if hasValue {
					return nil, usagef("flag --%s does not take a value", name)
				}
				r.bools[name] = true
				continue
			}
			if !hasValue {
				v, err := next(&i, s)
				if err != nil {
					return nil, err
				}
				value = v
			}
			if err := set(s, value); err != nil {
				return nil, err
			}
		case isFlag(a):
			for j := 1; j < len(a); j++ {
				s := t.short[a[j]]
				if s == nil {
					return nil, unknown("-" + a[j:j+1])
				}
				if s.arg == "" {
					r.bools[s.long] = true
					continue
				}
				value := strings.TrimPrefix(a[j+1:], "=")
				if j+1 == len(a) {
					v, err := next(&i, s)
					if err != nil {
						return nil, err
					}
					value = v
				}
				if err := set(s, value); err != nil {
					return nil, err
				}
				break
			}
		default:
			r.positional = append(r.positional, a)
		}
	}
	return r, nil
}

// isFlag reports whether a looks like a flag ("-" alone is an argument).
func isFlag(a string) bool {
	return len(a) > 1 && a[0] == '-'
}

// absPath makes p absolute and clean: the background process may run from
// another directory, and the path is shown in messages.
func absPath(p string) (string, error) {
	if p == "" {
		return "", usagef("empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usagef("invalid path %q: %v", p, err)
	}
	return abs, nil
}
