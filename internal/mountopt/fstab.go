package mountopt

import "strings"

// fstabIgnored are generic mount(8) and /etc/fstab options that mean nothing
// to bucketfs: they are for mount(8) and systemd (auto, noauto, _netdev,
// nofail, user...) or are VFS flags a FUSE mount of bucketfs does not take
// from the options (FUSE mounts are always nosuid and nodev; atime updates do
// not exist on S3).
var fstabIgnored = map[string]bool{
	"defaults": true, "rw": true, "auto": true, "noauto": true,
	"_netdev": true, "netdev": true, "nofail": true,
	"user": true, "users": true, "nouser": true, "owner": true, "group": true,
	"suid": true, "nosuid": true, "dev": true, "nodev": true, "exec": true, "noexec": true,
	"async": true, "mand": true, "nomand": true,
	"atime": true, "noatime": true, "diratime": true, "nodiratime": true,
	"relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true,
	"lazytime": true, "nolazytime": true, "iversion": true, "noiversion": true,
	"silent": true, "loud": true,
}

// fstabRefused are options that cannot work from mount(8), with the reason.
var fstabRefused = map[string]string{
	"remount":    "remounting is not supported: unmount and mount again",
	"bind":       "bind mounts are not made by the bucketfs helper: mount the bucket, then bind-mount its directory",
	"rbind":      "bind mounts are not made by the bucketfs helper: mount the bucket, then bind-mount its directory",
	"move":       "moving mounts is not made by the bucketfs helper",
	"sync":       "synchronous writes are not supported: data reaches S3 when a file is closed",
	"dirsync":    "synchronous writes are not supported: data reaches S3 when a file is closed",
	"foreground": "a mount from mount(8) or fstab must not stay in the foreground (mount would never return)",
	"help":       "not an fstab option: run 'bucketfs mount --help'",
	"version":    "not an fstab option: run 'bucketfs --version'",
}

// FromFstab translates the option strings of mount(8)'s "-o" (each a
// comma-separated list) into "bucketfs mount" flags.
//
// bucketfs options are written without "--", as "allow-delete" or
// "region=us-east-1" ('_' may stand for '-': "allow_other"). "ro" means
// --read-only. Generic options (defaults, rw, auto, noauto, _netdev, nofail,
// user, users, nosuid, nodev, noexec, atime options...) and x-* and comment=
// options are ignored. With sloppy (mount -s), unknown options are returned
// as warnings instead of errors.
func FromFstab(optionStrings []string, sloppy bool) (flags, warnings []string, err error) {
	for _, s := range optionStrings {
		for _, opt := range strings.Split(s, ",") {
			if opt == "" {
				continue
			}
			name, value, hasValue := strings.Cut(opt, "=")
			switch {
			case fstabIgnored[name] && !hasValue,
				strings.HasPrefix(name, "x-"), name == "comment":
				continue
			case name == "ro" && !hasValue:
				flags = append(flags, "--read-only")
				continue
			case fstabRefused[Canonical(name)] != "":
				return nil, nil, errorf(name, "option %q: %s", name, fstabRefused[Canonical(name)])
			}
			f, err := Option{Name: name, Value: value, HasValue: hasValue}.Flag()
			if err != nil {
				if sloppy {
					warnings = append(warnings, "ignoring option "+opt+" (sloppy mount): "+err.Error())
					continue
				}
				return nil, nil, err
			}
			flags = append(flags, f)
		}
	}
	return flags, warnings, nil
}
