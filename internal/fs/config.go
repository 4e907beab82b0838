package fs

import (
	"log/slog"
	"time"

	"github.com/bucketfs/bucketfs/internal/stage"
)

// DefaultSmallFileMax is the default Config.SmallFileMax: 64 KiB costs a
// large object little more than a HEAD, and covers typical small files
// (configuration, JSON, text, thumbnails).
const DefaultSmallFileMax = 64 << 10

// DefaultMaxRenameKeys is the default Config.MaxRenameKeys: a directory
// rename copies and deletes every key under it, so it is bounded.
const DefaultMaxRenameKeys = 10000

// Config is the file-system behaviour chosen at mount time.
type Config struct {
	// Prefix is the key prefix the mount's root maps to: "" or ending in "/".
	Prefix string

	UID, GID          uint32
	DirMode, FileMode uint32 // permission bits only (e.g. 0755, 0644)

	ReadOnly       bool
	AllowDelete    bool
	AllowOverwrite bool

	// POSIX mode (posix.go). AllowEdit stages writes on local disk (in
	// Stage) so files can be appended to, edited in place and truncated;
	// AllowRename renames files and directories (up to MaxRenameKeys keys);
	// Posix persists directories, symbolic links, modes, owners and times.
	// Hostname names the conflict copies of failed commits.
	AllowEdit     bool
	AllowRename   bool
	Posix         bool
	Stage         *stage.Dir
	MaxRenameKeys int
	Hostname      string

	// Metadata TTLs: how long a looked-up directory / file / negative entry is
	// trusted before S3 is asked again. Also handed to the kernel as entry/attr timeouts.
	DirTTL, FileTTL, NegativeTTL time.Duration

	ReadPartSize  int64 // ranged GET size for reads
	WritePartSize int64 // multipart part size for writes
	MaxThreads    int   // upper bound of concurrent S3 requests per handle

	// SmallFileMax: a lookup (or the stat of an open after the TTL) of a
	// file fetches its first SmallFileMax bytes with one GET instead of a
	// HEAD, so a file that small is read with no further request. 0 means
	// DefaultSmallFileMax; negative means HEAD only.
	SmallFileMax int64

	// MemoryTarget is the memory the whole process should stay within
	// (--memory-target); read-ahead and upload buffers draw from
	// memory.BufferBudget of it. 0 means memory.DefaultTarget().
	MemoryTarget int64

	Logger *slog.Logger
}
