// Package mountinfo reads the kernel's mount table (/proc/self/mountinfo):
// the one parser of it for the mount command, the CSI driver (which gets
// its entries from k8s.io/mount-utils and only needs Unescape) and the
// benchmark harness. It imports the standard library only.
package mountinfo

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// Path is the calling process's mount table.
const Path = "/proc/self/mountinfo"

// Entry is one line of the table, the fields bucketfs uses, unescaped.
type Entry struct {
	MountPoint string
	FSType     string
	Source     string
	Options    string // per-mount options, e.g. "rw,nosuid,nodev,relatime"
}

// Parse parses the format of proc(5) /proc/PID/mountinfo:
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
// Lines that do not have that shape are skipped.
func Parse(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) { // sep ≥ 6: the fields before it are there
			continue
		}
		out = append(out, Entry{
			MountPoint: Unescape(f[4]),
			FSType:     Unescape(f[sep+1]),
			Source:     Unescape(f[sep+2]),
			Options:    f[5],
		})
	}
	return out, sc.Err()
}

// Read parses the calling process's mount table.
func Read() ([]Entry, error) {
	f, err := os.Open(Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Last returns the last (topmost) entry mounted at dir, or nil.
func Last(entries []Entry, dir string) *Entry {
	var found *Entry
	for i := range entries {
		if entries[i].MountPoint == dir {
			found = &entries[i]
		}
	}
	return found
}

// Unescape undoes the kernel's \NNN escaping of spaces, tabs, newlines and
// backslashes.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
