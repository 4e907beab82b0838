package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/cli"
	"github.com/bucketfs/bucketfs/internal/mount"
)

// noMount is a mount step that must not be reached.
func noMount(t *testing.T) mount.MountFunc {
	return func(context.Context, *cli.MountConfig, *slog.Logger) (mount.Session, error) {
		t.Error("mount step reached")
		return nil, errors.New("unexpected")
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name   string
		argv   []string
		code   int
		stdout string // prefix
		stderr string // exact, "" for none
	}{
		{"version", []string{"bucketfs", "--version"}, 0, "bucketfs dev\n", ""},
		{"mount version", []string{"bucketfs", "mount", "-V"}, 0, "bucketfs dev\n", ""},
		{"help", []string{"bucketfs", "help"}, 0, "Usage:\n  bucketfs mount", ""},
		{"mount help", []string{"bucketfs", "mount", "--help"}, 0, "Mount an S3 bucket", ""},
		{"as mount-s3", []string{"/sbin/mount-s3", "--help"}, 0, "Mount an S3 bucket", ""},
		{"no command", []string{"bucketfs"}, 2, "", "bucketfs: missing command: use 'bucketfs mount BUCKET DIRECTORY' or 'bucketfs unmount DIRECTORY' (see 'bucketfs help')\n"},
		{"unknown flag", []string{"bucketfs", "mount", "b-1", dir, "--foo"}, 2, "", "bucketfs: unknown flag --foo (see 'bucketfs mount --help')\n"},
		{"bad value", []string{"bucketfs", "mount", "b-1", dir, "--uid", "abc"}, 2, "", "bucketfs: invalid value \"abc\" for --uid: must be a number\n"},
		{"missing args", []string{"bucketfs", "mount", "b-1"}, 2, "", "bucketfs: missing DIRECTORY argument: usage: bucketfs mount BUCKET DIRECTORY [OPTIONS] (see 'bucketfs mount --help')\n"},
		{"missing mount point", []string{"bucketfs", "mount", "b-1", "/nonexistent/mnt"}, 1, "", "bucketfs: mount point /nonexistent/mnt does not exist\n"},
		{"mount point is a file", []string{"bucketfs", "mount", "b-1", file}, 1, "", "bucketfs: mount point " + file + " is not a directory\n"},
		{"unmount a plain directory", []string{"bucketfs", "unmount", dir}, 1, "", "bucketfs: " + dir + " is not a mount point\n"},
		{"unmount usage", []string{"bucketfs", "umount"}, 2, "", "bucketfs: missing DIRECTORY argument: usage: bucketfs unmount DIRECTORY\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.argv, &out, &errOut, noMount(t))
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.HasPrefix(out.String(), tt.stdout) || (tt.stdout == "" && out.Len() > 0) {
				t.Errorf("stdout = %q, want prefix %q", out.String(), tt.stdout)
			}
			if errOut.String() != tt.stderr {
				t.Errorf("stderr = %q, want %q", errOut.String(), tt.stderr)
			}
		})
	}
}

// TestRunForeground: -f mounts in this process, prints the mounted line, and
// a failure of the mount step is one line with exit code 1.
func TestRunForeground(t *testing.T) {
	dir := t.TempDir()
	failing := func(context.Context, *cli.MountConfig, *slog.Logger) (mount.Session, error) {
		return nil, errors.New("bucket \"b-1\" does not exist")
	}
	var out, errOut bytes.Buffer
	code := run([]string{"bucketfs", "mount", "b-1", dir, "-f", "--no-log"}, &out, &errOut, failing)
	if code != 1 || errOut.String() != "bucketfs: bucket \"b-1\" does not exist\n" || out.Len() != 0 {
		t.Errorf("code %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestRunCSIAndHelper: "bucketfs csi" parses its own flags; the binary
// invoked as mount.bucketfs is the mount(8) helper (-f checks and mounts
// nothing).
func TestRunCSIAndHelper(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		argv   []string
		code   int
		stdout string // prefix
		stderr string // substring
	}{
		{"csi help", []string{"bucketfs", "csi", "--help"}, 0, "Kubernetes CSI node plugin s3.csi.bucketfs.io", ""},
		{"csi bad flag", []string{"bucketfs", "csi", "--bogus"}, 2, "", "bucketfs csi: flag provided but not defined: -bogus"},
		{"csi bad endpoint", []string{"bucketfs", "csi", "--endpoint", "tcp://x"}, 2, "", "--endpoint must be a unix socket"},
		{"helper fake", []string{"/sbin/mount.bucketfs", "b-1", dir, "-f", "-o", "allow-delete,_netdev"}, 0, "", ""},
		{"helper bad option", []string{"/sbin/mount.bucketfs", "b-1", dir, "-o", "bogus"}, 2, "", `bucketfs: unknown option "bogus"`},
		{"helper help", []string{"mount.bucketfs", "--help"}, 0, "bucketfs mount helper", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.argv, &out, &errOut, noMount(t))
			if code != tt.code || !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) ||
				(tt.stderr == "" && errOut.Len() > 0) {
				t.Errorf("code %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
