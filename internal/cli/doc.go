// Package cli turns the bucketfs command line into typed configuration.
//
// The command line is the one of AWS's "Mountpoint for Amazon S3" (mount-s3)
// behind a subcommand:
//
//	bucketfs mount BUCKET DIRECTORY [OPTIONS]
//	bucketfs unmount DIRECTORY            (alias: umount)
//	bucketfs --version | help [mount]
//
// Flags keep mount-s3's names and meanings, so a mount-s3 command line works
// after "bucketfs mount" (or unchanged when the binary is invoked as
// "mount-s3"). Parsing is GNU style and hand-rolled on purpose: "--flag value",
// "--flag=value", short flags ("-f", "-d", "-l DIR", clusters like "-fd"),
// flags before or after the positional arguments, and "--" to end options.
//
// The result of parsing is a MountConfig holding the three configurations the
// parts are built from (s3.Config, fs.Config, fuse.Options) plus the
// process-level settings (foreground, logging). Checks happen in two steps:
// ParseMount rejects anything wrong with the command line itself (unknown
// flags, bad values, conflicting flags: all *UsageError, exit code 2), and
// Validate additionally checks the machine (the mount point exists and is a
// directory, the CA bundle exists), failing with plain errors (exit code 1).
//
// BUCKET is a bucket name ("my-bucket"), a bucket with a prefix
// ("my-bucket/some/prefix/") or an S3 URI ("s3://my-bucket/some/prefix/").
// Bucket names are checked against S3's naming rules once, here; a prefix is
// either empty or ends in "/", as mount-s3 requires.
//
// This package reads no environment and does no network I/O: credentials,
// regions and endpoints that come from the environment are resolved by
// internal/objstore/s3 (zero values in s3.Config mean "the SDK's default").
package cli
