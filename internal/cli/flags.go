package cli

import (
	"fmt"
	"strings"

	"github.com/bucketfs/bucketfs/internal/mountopt"
)

// flagSpec describes one mount flag: its names, whether it takes a value
// (arg is the value's placeholder, "" for a boolean flag), one line of help
// and the help section it is listed in.
type flagSpec struct {
	long    string
	short   byte
	arg     string
	help    string
	section string
}

// Help sections, in the order they are printed (mount-s3's grouping).
const (
	secGeneral = mountopt.SecGeneral
)

var sections = mountopt.Sections

// mountFlags is every flag "bucketfs mount" accepts: the table of
// internal/mountopt, which the fstab helper and the CSI driver share.
var mountFlags = specsOf(mountopt.Mount)

// unsupportedMountS3Flags are mount-s3 flags bucketfs does not implement; they
// get a clearer error than an unknown flag.
var unsupportedMountS3Flags = mountopt.UnsupportedMountS3

// specsOf converts mountopt's flag table into flagSpecs.
func specsOf(flags []mountopt.Flag) []flagSpec {
	out := make([]flagSpec, len(flags))
	for i, f := range flags {
		out[i] = flagSpec{long: f.Long, short: f.Short, arg: f.Arg, help: f.Help, section: f.Section}
	}
	return out
}

// flagTable indexes a flag list by long and short name.
// unsupported names flags to refuse with a clearer error than "unknown".
type flagTable struct {
	long        map[string]*flagSpec
	short       map[byte]*flagSpec
	unsupported map[string]bool
}

func newFlagTable(specs []flagSpec, unsupported map[string]bool) flagTable {
	t := flagTable{long: map[string]*flagSpec{}, short: map[byte]*flagSpec{}, unsupported: unsupported}
	for i := range specs {
		s := &specs[i]
		t.long[s.long] = s
		if s.short != 0 {
			t.short[s.short] = s
		}
	}
	return t
}

// formatFlags renders flags as help lines grouped by section, each flag on
// one line with its help aligned in a column.
func formatFlags(specs []flagSpec) string {
	names := make([]string, len(specs))
	width := 0
	for i, s := range specs {
		n := "    "
		if s.short != 0 {
			n = fmt.Sprintf("-%c, ", s.short)
		}
		n += "--" + s.long
		if s.arg != "" {
			n += " " + s.arg
		}
		names[i] = n
		width = max(width, len(n))
	}
	var b strings.Builder
	for _, sec := range sections {
		first := true
		for i, s := range specs {
			if s.section != sec {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s:\n", sec)
				first = false
			}
			fmt.Fprintf(&b, "  %-*s  %s\n", width, names[i], s.help)
		}
	}
	return b.String()
}

const topUsage = `Usage:
  bucketfs mount BUCKET DIRECTORY [OPTIONS]   Mount an S3 bucket (or a prefix of it) at DIRECTORY
  bucketfs unmount DIRECTORY                  Unmount it (alias: umount)
  bucketfs csi --endpoint unix:///csi.sock    Run the Kubernetes CSI node plugin (see 'bucketfs csi --help')
  bucketfs --version                          Print the version
  bucketfs help [mount|unmount|csi]           Print help

Run 'bucketfs mount --help' for the mount options (the same as mount-s3's).
Linked or installed as /sbin/mount.bucketfs, the binary is the helper of
'mount -t bucketfs' and /etc/fstab (see 'mount.bucketfs --help').
`

const mountUsageHead = `Mount an S3 bucket at a directory (Mountpoint for Amazon S3 compatible).

Usage: bucketfs mount [OPTIONS] BUCKET DIRECTORY

Arguments:
  BUCKET     Bucket name, "bucket/prefix/" or an S3 URI "s3://bucket/prefix/"
  DIRECTORY  Existing directory to mount the bucket at

Without -f the command returns once the mount is live; the file system keeps
running in the background until unmounted ('bucketfs unmount DIRECTORY').
`

// MountHelp is the text of "bucketfs mount --help".
func MountHelp() string {
	return mountUsageHead + formatFlags(mountFlags)
}

// unmountFlags is every flag "bucketfs unmount" accepts.
var unmountFlags = []flagSpec{
	{"lazy", 'z', "", "Detach the mount now, clean up when it is no longer busy", secGeneral},
	{"help", 'h', "", "Print help", secGeneral},
}

// UnmountHelp is the text of "bucketfs unmount --help".
func UnmountHelp() string {
	return "Unmount a bucketfs file system.\n\nUsage: bucketfs unmount [OPTIONS] DIRECTORY\n" +
		"(alias: bucketfs umount)\n" + formatFlags(unmountFlags)
}

// TopHelp is the text of "bucketfs help".
func TopHelp() string { return topUsage }
