// Command bucketfs mounts an S3 bucket (or a prefix of it) as a file system
// with FUSE, as a drop-in for Mountpoint for Amazon S3 (mount-s3):
//
//	bucketfs mount BUCKET DIRECTORY [OPTIONS]
//	bucketfs unmount DIRECTORY
//	bucketfs --version
//	bucketfs help [mount|unmount|csi]
//	bucketfs csi --endpoint unix:///path/csi.sock --node-id NODE
//	mount.bucketfs BUCKET DIRECTORY [-o OPTIONS]   (as /sbin/mount.bucketfs)
//
// This file is wiring only: internal/cli parses, internal/mount runs the
// process, and the real parts (s3.New, fs.New, fuse.Mount) are picked here.
// Exit codes: 0 success, 1 runtime failure, 2 usage error; every error is one
// line on stderr starting with "bucketfs: ".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/cli"
	"github.com/bucketfs/bucketfs/internal/csi"
	"github.com/bucketfs/bucketfs/internal/mount"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr, realMount()))
}

// realMount is the production mount step: the S3 client, then the core and FUSE.
func realMount() mount.MountFunc {
	return mount.Real(func(ctx context.Context, cfg s3.Config, logger *slog.Logger) (objstore.Client, error) {
		c, err := s3.New(ctx, cfg, logger)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return c, nil
	})
}

// run executes the command line argv (argv[0] included) and returns the exit code.
func run(argv []string, stdout, stderr io.Writer, mountFn mount.MountFunc) int {
	inv, err := cli.Parse(argv[0], argv[1:])
	if mount.IsChild() {
		return runChild(inv, err, mountFn)
	}
	if err != nil {
		return fail(stderr, err)
	}
	switch inv.Command {
	case cli.CommandHelp:
		fmt.Fprint(stdout, inv.Help)
	case cli.CommandVersion:
		fmt.Fprintf(stdout, "bucketfs %s\n", version)
	case cli.CommandCSI:
		return runCSI(argv[2:], stdout, stderr)
	case cli.CommandUnmount:
		if err := mount.Unmount(inv.Dir, inv.Lazy); err != nil {
			return fail(stderr, err)
		}
	case cli.CommandMount:
		if err := inv.Mount.Validate(); err != nil {
			return fail(stderr, err)
		}
		if inv.Fake { // mount.bucketfs -f: checked, not mounted
			return 0
		}
		if inv.Helper && !inv.Verbose { // mount(8) helpers are quiet unless -v
			stdout = io.Discard
		}
		opts := mount.Options{Mount: mountFn, Stdout: stdout, Stderr: stderr, Args: argv}
		if err := mount.Run(context.Background(), inv.Mount, opts); err != nil {
			return fail(stderr, err)
		}
	}
	return 0
}

// runChild is the background mount process started by mount.Run: the same
// command line, parsed again; errors go to the parent through the report pipe.
func runChild(inv cli.Invocation, parseErr error, mountFn mount.MountFunc) int {
	parse := func() (*cli.MountConfig, error) {
		if parseErr != nil {
			return nil, parseErr
		}
		if inv.Command != cli.CommandMount {
			return nil, fmt.Errorf("background process started for something other than a mount")
		}
		return inv.Mount, inv.Mount.Validate()
	}
	if err := mount.RunChild(parse, mount.Options{Mount: mountFn}); err != nil {
		return 1
	}
	return 0
}

// runCSI runs the CSI node plugin until SIGINT/SIGTERM. Mounts it made
// stay: they are separate processes.
func runCSI(args []string, stdout, stderr io.Writer) int {
	opts, err := csi.ParseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bucketfs csi: %s\n", err)
		return 2
	}
	logger := mount.NewLogger(stderr, opts.Debug)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := csi.New(opts, &csi.SystemMounter{Path: opts.BucketfsPath}, logger, version)
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "bucketfs csi: %s\n", err)
		return 1
	}
	return 0
}

// fail prints err as one line and returns its exit code: 2 for command-line
// mistakes, 1 otherwise.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "bucketfs: %s\n", mount.OneLine(err.Error()))
	if cli.IsUsage(err) {
		return 2
	}
	return 1
}
