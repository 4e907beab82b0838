package metadata

import (
	"maps"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// POSIX mode keeps what S3 has no place for in the object's user metadata,
// under the keys s3fs uses, so a bucket looks the same through s3fs, rclone
// and bucketfs:
//
//   - x-amz-meta-mode: st_mode in decimal, type bits included (33188 is a
//     regular file 0644, 16877 a directory 0755, 41471 a symbolic link);
//     s3fs reads it with C's base 0 (a leading 0 is octal, 0x hex), as here;
//   - x-amz-meta-uid, x-amz-meta-gid: decimal;
//   - x-amz-meta-mtime: seconds since the epoch, "1700000000" or, with
//     nanoseconds, "1700000000.123456789" (rclone writes a fraction of any
//     length; it is read as a decimal fraction);
//   - a symbolic link is an object whose body is the target and whose mode
//     has S_IFLNK; a directory's attributes live on its "d/" marker.
//
// Keys the objstore clients return are lower-case and without the
// "x-amz-meta-" prefix.
const (
	MetaMode  = "mode"
	MetaUID   = "uid"
	MetaGID   = "gid"
	MetaMtime = "mtime"
)

// Attrs are the POSIX attributes an object's metadata carries. A field not
// in the metadata is unset (zero Mode, Has* false, zero Mtime): the mount's
// defaults apply.
type Attrs struct {
	Mode           uint32 // type | permission bits
	UID, GID       uint32
	HasUID, HasGID bool
	Mtime          time.Time
}

// ParseAttrs reads the attributes from user metadata. Values that do not
// parse are ignored, as if absent.
func ParseAttrs(md map[string]string) Attrs {
	var a Attrs
	if v, ok := md[MetaMode]; ok {
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32); err == nil {
			a.Mode = uint32(n)
		}
	}
	if v, ok := md[MetaUID]; ok {
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32); err == nil {
			a.UID, a.HasUID = uint32(n), true
		}
	}
	if v, ok := md[MetaGID]; ok {
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32); err == nil {
			a.GID, a.HasGID = uint32(n), true
		}
	}
	if v, ok := md[MetaMtime]; ok {
		a.Mtime, _ = parseTime(strings.TrimSpace(v))
	}
	return a
}

// parseTime reads "SECONDS" or "SECONDS.FRACTION".
func parseTime(s string) (time.Time, bool) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		nsec = int64(n)
		for i := len(frac); i < 9; i++ {
			nsec *= 10
		}
	}
	return time.Unix(sec, nsec), true
}

// FormatTime writes t as s3fs does: seconds, and nanoseconds when there are any.
func FormatTime(t time.Time) string {
	if t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(int64(t.Nanosecond())+1e9, 10)[1:]
}

// Metadata returns md (which it does not change) with a's set fields
// written over it: other keys, such as other tools' metadata, are kept.
func (a Attrs) Metadata(md map[string]string) map[string]string {
	out := maps.Clone(md)
	if out == nil {
		out = map[string]string{}
	}
	if a.Mode != 0 {
		out[MetaMode] = strconv.FormatUint(uint64(a.Mode), 10)
	}
	if a.HasUID {
		out[MetaUID] = strconv.FormatUint(uint64(a.UID), 10)
	}
	if a.HasGID {
		out[MetaGID] = strconv.FormatUint(uint64(a.GID), 10)
	}
	if !a.Mtime.IsZero() {
		out[MetaMtime] = FormatTime(a.Mtime)
	}
	return out
}

// IsSymlink reports whether the attributes describe a symbolic link.
func (a Attrs) IsSymlink() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFLNK }
