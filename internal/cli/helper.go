package cli

import (
	"path/filepath"

	"github.com/bucketfs/bucketfs/internal/mountopt"
)

// HelperNames are the names under which the binary is the mount(8) helper:
// "mount -t bucketfs" runs /sbin/mount.bucketfs, "mount -t fuse.bucketfs"
// runs /sbin/mount.fuse.bucketfs when it exists.
var HelperNames = []string{"mount.bucketfs", "mount.fuse.bucketfs"}

// IsHelperName reports whether prog (argv[0]) invokes the mount(8) helper.
func IsHelperName(prog string) bool {
	base := filepath.Base(prog)
	for _, n := range HelperNames {
		if base == n {
			return true
		}
	}
	return false
}

const helperUsage = `bucketfs mount helper for mount(8) and /etc/fstab.

Usage: mount.bucketfs BUCKET DIRECTORY [-sfnv] [-o OPTIONS] [-t TYPE]

  mount -t bucketfs my-bucket /mnt/s3 -o allow-delete,region=us-east-1
  fstab: s3://my-bucket/prefix/ /mnt/s3 bucketfs _netdev,nofail,rw,allow-delete 0 0

OPTIONS are bucketfs mount options without "--" ("allow-delete",
"region=us-east-1", "uid=1000"), '_' standing for '-' if you like
("allow_other"). "ro" means read-only. Generic options (defaults, rw, auto,
noauto, _netdev, nofail, user, users, nosuid, nodev, noexec, atime options,
x-*, comment=) are ignored. Credentials come from the environment, the
instance or task role, or profile=NAME.

  -s  sloppy: ignore unknown options (with a warning)
  -f  fake: check everything, mount nothing
  -n  accepted (bucketfs writes no /etc/mtab)
  -v  verbose: print the mounted line
  -t  accepted (the type)
`

// HelperHelp is the text of "mount.bucketfs --help".
func HelperHelp() string { return helperUsage }

// parseHelper parses the command line mount(8) gives a helper:
//
//	mount.bucketfs SPEC DIR [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]
//
// and turns it into the "bucketfs mount" invocation it stands for.
func parseHelper(args []string) (Invocation, error) {
	var positional, opts []string
	var sloppy, fake, verbose bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			return Invocation{Command: CommandHelp, Help: HelperHelp()}, nil
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case !isFlag(a):
			positional = append(positional, a)
		case a[1] == 'o' || a[1] == 't' || a[1] == 'N':
			value := a[2:]
			if value == "" {
				if i+1 >= len(args) {
					return Invocation{}, usagef("%s needs a value (see 'mount.bucketfs --help')", a)
				}
				i++
				value = args[i]
			}
			switch a[1] {
			case 'o':
				opts = append(opts, value)
			case 'N':
				return Invocation{}, usagef("-N (mount in another namespace) is not supported by mount.bucketfs")
			}
		default:
			for _, c := range a[1:] {
				switch c {
				case 's':
					sloppy = true
				case 'f':
					fake = true
				case 'v':
					verbose = true
				case 'n':
				default:
					return Invocation{}, usagef("unknown flag -%c (see 'mount.bucketfs --help')", c)
				}
			}
		}
	}
	if len(positional) != 2 {
		return Invocation{}, usagef("want BUCKET and DIRECTORY, got %d arguments: usage: mount.bucketfs BUCKET DIRECTORY [-o OPTIONS]", len(positional))
	}
	flags, warnings, err := mountopt.FromFstab(opts, sloppy)
	if err != nil {
		return Invocation{}, usagef("%s", err.Error())
	}
	cfg, err := ParseMount(append(positional, flags...))
	if err != nil {
		return Invocation{}, err
	}
	cfg.Warnings = append(cfg.Warnings, warnings...)
	return Invocation{Command: CommandMount, Mount: cfg, Helper: true, Fake: fake, Verbose: verbose}, nil
}
