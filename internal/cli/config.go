package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	bfs "github.com/bucketfs/bucketfs/internal/fs"
	"github.com/bucketfs/bucketfs/internal/fuse"
	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// MountConfig is a parsed "bucketfs mount" command line: the configurations
// of the three parts, plus what the mount process itself needs. The bucket
// name is S3.Bucket and the prefix FS.Prefix; there is one copy of each.
// The Logger fields of FS and FUSE are left nil for internal/mount to fill.
type MountConfig struct {
	// MountPoint is the absolute path of the directory to mount at.
	MountPoint string

	Foreground   bool   // -f: stay in the foreground, log to stderr
	Debug        bool   // -d: debug-level logging
	NoLog        bool   // --no-log: discard all logs
	LogDirectory string // -l: absolute path of the log directory; "" for none

	S3   s3.Config
	FS   bfs.Config
	FUSE fuse.Options

	// CacheDir is where a staging directory for edits is made (--cache-dir;
	// "" means $TMPDIR), MaxCacheSize its cap in bytes (0: keep 5% of the
	// disk free). Used when FS.AllowEdit.
	CacheDir     string
	MaxCacheSize int64

	// Warnings are accepted-but-questionable uses (deprecated forms, ignored
	// flags) to log once logging is set up.
	Warnings []string
}

// Source is the S3 location as a URI: "s3://bucket" or "s3://bucket/prefix/".
// It is also the FUSE fsname, shown as the source in /proc/mounts.
func (c *MountConfig) Source() string {
	if c.FS.Prefix == "" {
		return "s3://" + c.S3.Bucket
	}
	return "s3://" + c.S3.Bucket + "/" + c.FS.Prefix
}

// Description names what is mounted, as mount-s3 does:
// "bucket b" or "prefix p/ of bucket b".
func (c *MountConfig) Description() string {
	if c.FS.Prefix == "" {
		return "bucket " + c.S3.Bucket
	}
	return "prefix " + c.FS.Prefix + " of bucket " + c.S3.Bucket
}

const mountUsageLine = "usage: bucketfs mount BUCKET DIRECTORY [OPTIONS] (see 'bucketfs mount --help')"

// ParseMount parses the arguments of "bucketfs mount" (the words after
// "mount") into a MountConfig with every default filled in, and checks
// everything that can be checked without looking at the machine. Errors are
// *UsageError, except ErrHelp and ErrVersion when -h/--help or -V/--version
// was given. Call Validate before mounting.
func ParseMount(args []string) (*MountConfig, error) {
	raw, err := tokenize(args, newFlagTable(mountFlags, unsupportedMountS3Flags), "bucketfs mount --help")
	if err != nil {
		return nil, err
	}
	if raw.bools["help"] {
		return nil, ErrHelp
	}
	if raw.bools["version"] {
		return nil, ErrVersion
	}
	switch len(raw.positional) {
	case 0:
		return nil, usagef("missing BUCKET and DIRECTORY arguments: %s", mountUsageLine)
	case 1:
		return nil, usagef("missing DIRECTORY argument: %s", mountUsageLine)
	case 2:
	default:
		return nil, usagef("unexpected argument %q: %s", raw.positional[2], mountUsageLine)
	}
	c, err := build(raw)
	if err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// build converts tokenized arguments into a MountConfig.
func build(raw *rawArgs) (*MountConfig, error) {
	bucket, prefix, err := ParseBucketArg(raw.positional[0])
	if err != nil {
		return nil, err
	}
	mountPoint, err := absPath(raw.positional[1])
	if err != nil {
		return nil, err
	}
	v, b := raw.values, raw.bools
	if p := v["prefix"]; p != "" {
		if err := ValidatePrefix(p); err != nil {
			return nil, err
		}
		if prefix != "" {
			return nil, usagef("a prefix in BUCKET (%q) and --prefix cannot be used together", raw.positional[0])
		}
		prefix = p
	}
	for _, name := range []string{"region", "profile", "storage-class", "expected-bucket-owner", "ca-bundle", "log-directory", "cache-dir"} {
		if s, ok := v[name]; ok && s == "" {
			return nil, invalid("--"+name, s, "must not be empty")
		}
	}

	c := &MountConfig{
		MountPoint: mountPoint,
		Foreground: b["foreground"],
		Debug:      b["debug"],
		NoLog:      b["no-log"],
		S3: s3.Config{
			Bucket:              bucket,
			Region:              v["region"],
			ForcePathStyle:      b["force-path-style"],
			Profile:             v["profile"],
			NoSignRequest:       b["no-sign-request"],
			RequesterPays:       b["requester-pays"],
			ExpectedBucketOwner: v["expected-bucket-owner"],
			StorageClass:        v["storage-class"],
			UploadChecksums:     "crc32c",
			UserAgentPrefix:     v["user-agent-prefix"],
			MaxConnections:      DefaultMaxThreads,
		},
		FS: bfs.Config{
			Prefix:         prefix,
			UID:            uint32(os.Getuid()),
			GID:            uint32(os.Getgid()),
			DirMode:        DefaultDirMode,
			FileMode:       DefaultFileMode,
			ReadOnly:       b["read-only"],
			AllowDelete:    b["allow-delete"] || b["posix"],
			AllowOverwrite: b["allow-overwrite"] || b["posix"] || b["allow-edit"],
			AllowEdit:      b["allow-edit"] || b["posix"],
			AllowRename:    b["allow-rename"] || b["posix"],
			Posix:          b["posix"],
			ReadPartSize:   DefaultPartSize,
			WritePartSize:  DefaultPartSize,
			MaxThreads:     DefaultMaxThreads,
		},
		FUSE: fuse.Options{
			AllowOther:  b["allow-other"],
			AllowRoot:   b["allow-root"],
			AutoUnmount: b["auto-unmount"],
			ReadOnly:    b["read-only"],
			Debug:       b["debug"],
			LocalLocks:  b["posix"],
		},
	}
	c.FUSE.FsName = c.Source()

	if s, ok := v["endpoint-url"]; ok {
		if c.S3.EndpointURL, err = parseEndpointURL("--endpoint-url", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["sse"]; ok {
		if c.S3.SSE, err = oneOf("--sse", s, "AES256", "aws:kms", "aws:kms:dsse"); err != nil {
			return nil, err
		}
	}
	if s, ok := v["sse-kms-key-id"]; ok {
		if c.S3.SSEKMSKeyID, err = parseKMSKeyARN("--sse-kms-key-id", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["upload-checksums"]; ok {
		if c.S3.UploadChecksums, err = oneOf("--upload-checksums", s, "crc32c", "off"); err != nil {
			return nil, err
		}
	}
	if s, ok := v["uid"]; ok {
		if c.FS.UID, err = parseID("--uid", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["gid"]; ok {
		if c.FS.GID, err = parseID("--gid", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["dir-mode"]; ok {
		if c.FS.DirMode, err = parseMode("--dir-mode", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["file-mode"]; ok {
		if c.FS.FileMode, err = parseMode("--file-mode", s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["max-threads"]; ok {
		if c.FS.MaxThreads, err = parseThreads("--max-threads", s); err != nil {
			return nil, err
		}
		c.S3.MaxConnections = c.FS.MaxThreads
	}
	if s, ok := v["memory-target"]; ok {
		mib, err := parseThreads("--memory-target", s)
		if err != nil {
			return nil, err
		}
		if int64(mib)<<20 < memory.MinTarget {
			return nil, invalid("--memory-target", s, fmt.Sprintf("must be at least %d (MiB)", memory.MinTarget>>20))
		}
		c.FS.MemoryTarget = int64(mib) << 20
	}
	if err := parsePosix(raw, c); err != nil {
		return nil, err
	}
	if err := parseParts(raw, c); err != nil {
		return nil, err
	}
	if err := parseTTLs(raw, c); err != nil {
		return nil, err
	}
	if s, ok := v["ca-bundle"]; ok {
		if c.S3.CABundle, err = absPath(s); err != nil {
			return nil, err
		}
	}
	if s, ok := v["log-directory"]; ok {
		if c.LogDirectory, err = absPath(s); err != nil {
			return nil, err
		}
	}
	if c.NoLog {
		for _, name := range []string{"debug", "debug-crt"} {
			if b[name] {
				return nil, usagef("--no-log cannot be used with --%s", name)
			}
		}
	}
	if c.S3.NoSignRequest && c.S3.Profile != "" {
		c.Warnings = append(c.Warnings, "--profile is ignored with --no-sign-request: requests are not signed")
	}
	return c, nil
}

// parsePosix reads the flags of POSIX mode: --posix with --read-only is a
// contradiction, and the staging flags need a mode that edits.
func parsePosix(raw *rawArgs, c *MountConfig) error {
	v, b := raw.values, raw.bools
	if b["read-only"] {
		for _, name := range []string{"posix", "allow-edit", "allow-rename"} {
			if b[name] {
				return usagef("--read-only and --%s cannot be used together", name)
			}
		}
	}
	if s, ok := v["max-rename-keys"]; ok {
		n, err := parseThreads("--max-rename-keys", s)
		if err != nil {
			return err
		}
		c.FS.MaxRenameKeys = n
	}
	if s, ok := v["cache-dir"]; ok {
		dir, err := absPath(s)
		if err != nil {
			return err
		}
		c.CacheDir = dir
	}
	if s, ok := v["max-cache-size"]; ok {
		mib, err := parseThreads("--max-cache-size", s)
		if err != nil {
			return err
		}
		c.MaxCacheSize = int64(mib) << 20
	}
	if !c.FS.AllowEdit {
		for _, name := range []string{"cache-dir", "max-cache-size"} {
			if raw.has(name) {
				return usagef("--%s is where edited files are staged: it needs --posix or --allow-edit", name)
			}
		}
	}
	return nil
}

// parseParts reads --part-size, --read-part-size and --write-part-size.
// --part-size sets both and, as in mount-s3, cannot be combined with the others.
func parseParts(raw *rawArgs, c *MountConfig) error {
	if raw.has("part-size") && (raw.has("read-part-size") || raw.has("write-part-size")) {
		return usagef("--part-size cannot be used with --read-part-size or --write-part-size")
	}
	sizes := []struct {
		flag          string
		read, write   bool
		checkMinWrite bool
	}{
		{"part-size", true, true, true},
		{"read-part-size", true, false, false},
		{"write-part-size", false, true, true},
	}
	for _, s := range sizes {
		value, ok := raw.values[s.flag]
		if !ok {
			continue
		}
		n, err := parseSize("--"+s.flag, value)
		if err != nil {
			return err
		}
		if s.checkMinWrite && n < MinWritePartSize {
			return invalid("--"+s.flag, value, fmt.Sprintf("must be at least %d (5 MiB), S3's minimum part size for uploads", MinWritePartSize))
		}
		if s.checkMinWrite && n > MaxWritePartSize {
			return invalid("--"+s.flag, value, fmt.Sprintf("must be at most %d (5 GiB), S3's maximum part size", int64(MaxWritePartSize)))
		}
		if s.read {
			c.FS.ReadPartSize = n
		}
		if s.write {
			c.FS.WritePartSize = n
		}
	}
	return nil
}

// parseTTLs reads --metadata-ttl and --negative-metadata-ttl and sets the
// TTLs of both the core and the kernel (see metadataTTLs for the mapping).
func parseTTLs(raw *rawArgs, c *MountConfig) error {
	meta := TTL{Minimal: true}
	if s, ok := raw.values["metadata-ttl"]; ok {
		t, err := parseTTL("--metadata-ttl", s)
		if err != nil {
			return err
		}
		if t.Minimal && s != "minimal" {
			c.Warnings = append(c.Warnings, "'--metadata-ttl 0' is interpreted as 'minimal'; use '--metadata-ttl minimal' instead")
		}
		meta = t
	}
	var negative *TTL
	if s, ok := raw.values["negative-metadata-ttl"]; ok {
		t, err := parseTTL("--negative-metadata-ttl", s)
		if err != nil {
			return err
		}
		negative = &t
	}
	c.FS.DirTTL, c.FS.FileTTL, c.FS.NegativeTTL = metadataTTLs(meta, negative)
	c.FUSE.DirTTL, c.FUSE.FileTTL, c.FUSE.NegativeTTL = c.FS.DirTTL, c.FS.FileTTL, c.FS.NegativeTTL
	return nil
}

// check verifies the invariants of a MountConfig that need no look at the
// machine. ParseMount runs it; Validate runs it again, so that a MountConfig
// built or changed by other code (the fstab helper, CSI) is held to the same rules.
func (c *MountConfig) check() error {
	if err := ValidateBucketName(c.S3.Bucket); err != nil {
		return err
	}
	if err := ValidatePrefix(c.FS.Prefix); err != nil {
		return err
	}
	if c.MountPoint == "" || !filepath.IsAbs(c.MountPoint) {
		return usagef("the mount point must be an absolute path (got %q)", c.MountPoint)
	}
	if c.FUSE.AllowRoot && c.FUSE.AllowOther {
		return usagef("--allow-root and --allow-other cannot be used together (--allow-other already includes root)")
	}
	if c.FS.ReadOnly != c.FUSE.ReadOnly {
		return usagef("inconsistent read-only settings of the core and the FUSE mount")
	}
	if c.FS.ReadOnly && c.FS.AllowDelete {
		return usagef("--read-only and --allow-delete cannot be used together")
	}
	if c.FS.ReadOnly && c.FS.AllowOverwrite {
		return usagef("--read-only and --allow-overwrite cannot be used together")
	}
	if c.FS.ReadOnly && (c.FS.AllowEdit || c.FS.AllowRename || c.FS.Posix) {
		return usagef("--read-only cannot be used with --posix, --allow-edit or --allow-rename")
	}
	if c.FS.Posix && !c.FS.AllowEdit {
		return usagef("--posix includes --allow-edit")
	}
	switch c.S3.SSE {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return invalid("--sse", c.S3.SSE, "must be one of AES256, aws:kms, aws:kms:dsse")
	}
	if c.S3.SSEKMSKeyID != "" && c.S3.SSE != "aws:kms" && c.S3.SSE != "aws:kms:dsse" {
		return usagef("--sse-kms-key-id requires --sse aws:kms or --sse aws:kms:dsse")
	}
	switch c.S3.UploadChecksums {
	case "crc32c", "off":
	default:
		return invalid("--upload-checksums", c.S3.UploadChecksums, "must be one of crc32c, off")
	}
	if c.FS.DirMode > 0o777 || c.FS.FileMode > 0o777 {
		return usagef("--dir-mode and --file-mode take permission bits only (at most 0777)")
	}
	if c.FS.ReadPartSize <= 0 {
		return usagef("--read-part-size must be positive")
	}
	if c.FS.WritePartSize < MinWritePartSize || c.FS.WritePartSize > MaxWritePartSize {
		return usagef("--write-part-size must be between %d (5 MiB) and %d (5 GiB) bytes", MinWritePartSize, int64(MaxWritePartSize))
	}
	if c.FS.MaxThreads <= 0 {
		return usagef("--max-threads must be positive")
	}
	if c.FS.DirTTL <= 0 || c.FS.FileTTL <= 0 || c.FS.NegativeTTL <= 0 {
		return usagef("metadata TTLs must be positive")
	}
	if c.NoLog && (c.Debug || c.LogDirectory != "") {
		return usagef("--no-log cannot be used with --debug or --log-directory")
	}
	return nil
}

// Validate checks c completely: the command-line invariants (as ParseMount
// does, *UsageError) and then the machine: the mount point must exist and be a
// directory, --ca-bundle must be an existing file, and --log-directory, when it
// exists, must be a directory (it is created otherwise). Machine errors are
// plain errors naming the path.
func (c *MountConfig) Validate() error {
	if err := c.check(); err != nil {
		return err
	}
	if err := checkMountPoint(c.MountPoint); err != nil {
		return err
	}
	if c.S3.CABundle != "" {
		st, err := os.Stat(c.S3.CABundle)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("CA bundle %s does not exist", c.S3.CABundle)
		case err != nil:
			return fmt.Errorf("CA bundle %s: %w", c.S3.CABundle, UnwrapPath(err))
		case !st.Mode().IsRegular():
			return fmt.Errorf("CA bundle %s is not a file", c.S3.CABundle)
		}
	}
	if c.LogDirectory != "" {
		st, err := os.Stat(c.LogDirectory)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("log directory %s: %w", c.LogDirectory, UnwrapPath(err))
		case !st.IsDir():
			return fmt.Errorf("log directory %s is not a directory", c.LogDirectory)
		}
	}
	return nil
}

// checkMountPoint requires dir to be an existing directory, and names the
// usual causes when it is not.
func checkMountPoint(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("mount point %s does not exist", dir)
	case errors.Is(err, syscall.ENOTCONN):
		return fmt.Errorf("mount point %s is a stale FUSE mount (transport endpoint is not connected): run 'bucketfs unmount %s' first", dir, dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("mount point %s is not accessible: permission denied", dir)
	case err != nil:
		return fmt.Errorf("mount point %s: %w", dir, UnwrapPath(err))
	case !st.IsDir():
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	return nil
}

// UnwrapPath drops the "stat /path:" part of a *fs.PathError, whose path the
// caller already names.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
