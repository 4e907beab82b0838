package fuse

import (
	"log/slog"
	"time"
)

// Options are the mount-level settings of the FUSE adapter.
type Options struct {
	FsName      string // shown in /proc/mounts as the source, e.g. "bucketfs:bucket/prefix/"
	AllowOther  bool
	AllowRoot   bool
	AutoUnmount bool
	ReadOnly    bool
	Debug       bool // log every FUSE request (to Logger at debug level)
	// LocalLocks leaves flock and fcntl locks to the kernel: they hold
	// between the processes of this host only (POSIX mode, for sqlite and
	// git). Otherwise lock requests are refused.
	LocalLocks bool

	// Kernel cache timeouts for entries and attributes.
	DirTTL, FileTTL, NegativeTTL time.Duration

	Logger *slog.Logger
}
