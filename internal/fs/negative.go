package fs

import (
	"syscall"
	"time"
)

// Names found missing are trusted missing for the negative TTL
// (--negative-metadata-ttl), as the kernel trusts them: a create or mkdir
// right after the kernel's own failed lookup then sends no second lookup.
// (A create is conditional anyway: If-None-Match.) A name made here is
// never absent; each directory remembers at most maxAbsent names.

const maxAbsent = 1024

// absentLocked reports whether name was found missing in dir within the
// negative TTL. REQUIRES(f.mu)
func (f *FS) absentLocked(dir *inode, name string) bool {
	t, ok := dir.absent[name]
	return ok && f.now().Before(t)
}

// noteAbsentLocked records that name is missing in dir. REQUIRES(f.mu)
func (f *FS) noteAbsentLocked(dir *inode, name string) {
	if f.cfg.NegativeTTL <= 0 {
		return
	}
	now := f.now()
	if dir.absent == nil {
		dir.absent = map[string]time.Time{}
	}
	if len(dir.absent) >= maxAbsent {
		for n, t := range dir.absent {
			if !now.Before(t) {
				delete(dir.absent, n)
			}
		}
		if len(dir.absent) >= maxAbsent {
			clear(dir.absent)
		}
	}
	dir.absent[name] = now.Add(f.cfg.NegativeTTL)
}

// absentErr is lookup's answer for a name known missing.
func absentErr(dir *inode, name string) error {
	return errorf(syscall.ENOENT, "lookup %q: no such file or directory", dir.key+name)
}
