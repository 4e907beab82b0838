// Package mount runs a bucketfs mount as a process: it mounts, reports when
// the mount is live, serves until unmounted, and unmounts on SIGINT/SIGTERM.
//
// # Lifecycle
//
// The mount step (MountFunc) is, in this order: build the S3 client (no
// network), probe the bucket with CheckBucket (bounded by CheckBucketTimeout,
// so a wrong endpoint or credentials fail the mount in seconds with a reason
// naming the cause), build the file-system core, mount it with FUSE, and stat
// the mount point from this process until it answers. Only then is the mount
// "live". Serve runs that step and then waits: a signal asks the kernel to
// unmount; when the mount ends (by signal, "bucketfs unmount" or umount), the
// core is shut down, which aborts uploads still in progress so that no partial
// object is left, and Serve returns.
//
// # Background mounts
//
// "bucketfs mount" without -f must return exit code 0 only once the mount is
// live, and leave the file system running. Go cannot fork safely, so the
// command re-executes its own binary (os.Executable) as a child marked by the
// environment variable BUCKETFS_DAEMON_CHILD=1, with the write end of a pipe
// as file descriptor 3. The child runs in its own session (setsid), with
// stdin/stdout/stderr on /dev/null, or stdout/stderr on a new log file
// bucketfs-<timestamp>.log when --log-directory is given; it parses the same
// arguments, mounts, and writes one line on the pipe:
//
//	ok                  the mount is live
//	error: <reason>     it is not, for this one-line reason
//
// The parent waits for that line (at most ReadyTimeout), prints the reason and
// fails if there is one, and otherwise returns, leaving the child serving. A
// child that dies without writing, or does not answer in time (it is then
// terminated), is reported as such.
//
// # Logging
//
// A *slog.Logger is built per process and handed down (no global logger):
// text format, debug level with --debug, discarded with --no-log. In the
// foreground logs go to stderr (and to the log file with --log-directory); in
// the background only to the log file, if any. Credentials never reach the
// logs: the configuration holds none (the SDK resolves them), and endpoint URLs
// are logged with any user:password part redacted.
//
// The fstab helper (the binary run as /sbin/mount.bucketfs by mount -t
// bucketfs) turns "-o" options into the same flags (internal/mountopt) and
// uses Run like `bucketfs mount`.
package mount
