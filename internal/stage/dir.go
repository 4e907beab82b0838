// Package stage keeps the local copies of files being edited in POSIX mode
// (--posix, --allow-edit): one sparse file per open object in a staging
// directory private to the mount.
//
// A staged File starts from a base: the object version (key and ETag) the
// edit began with, read through a Source pinned to that ETag. Bytes are
// brought into the local file only when they are read (or, for small
// objects, all at once when the edit starts; see fs), so appending to a
// 10 GiB object stages only what is appended. The File keeps two byte sets:
//
//   - have: bytes present in the local file (fetched from the base, or written);
//   - written: bytes written since the base (they may differ from it).
//
// and the base limit: bytes below it that are not in have are still the
// base's, at the same offset; bytes at or above it that are not in have are
// zeros (a truncation cuts the base, an extension adds a hole). What a commit
// can copy from the base on the server (UploadPartCopy) is Clean: below the
// base limit and not written. Everything else is read from the local file,
// fetching clean bytes first where they are missing.
//
// The staging directory (Dir) has a size cap: bytes present in its files are
// charged against it, and a write or fetch that would pass it fails with
// ErrFull (ENOSPC for the application). Without an explicit cap, 5% of the
// file system holding the directory is kept free. Each Dir holds a lock file;
// a Dir left behind by a process that died (kill -9) is removed by the next
// Open in the same parent, so its partial files are never used.
//
// The package imports the standard library only.
package stage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrFull reports that the staging directory reached its size cap.
var ErrFull = errors.New("staging directory is full (--max-cache-size)")

// minFreeFraction is the share of the staging file system kept free when no
// cap is given (as Mountpoint's --max-cache-size default).
const minFreeFraction = 0.05

// dirPrefix names staging directories, so stale ones can be found.
const dirPrefix = "bucketfs-stage-"

// Dir is one mount's staging directory.
type Dir struct {
	root string
	max  int64 // 0: keep minFreeFraction of the file system free
	lock *os.File
	// orphans are the multipart uploads a dead mount's journal left open.
	orphans []Upload
	// statfs reports the file system's total and available bytes (a field
	// so tests can fill the disk without filling it).
	statfs func(path string) (total, avail int64, err error)

	mu   sync.Mutex
	used int64 // GUARDED_BY(mu) bytes present in the files
	seq  uint64
}

// Open makes a fresh staging directory inside parent (created if missing),
// readable by the owner only, with at most max bytes in its files (0: keep
// 5% of the file system free). Staging directories in parent left by
// processes that are gone are removed first.
func Open(parent string, max int64) (*Dir, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("staging directory: %w", err)
	}
	orphans := removeStale(parent)
	root, err := os.MkdirTemp(parent, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("staging directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("staging directory %s: lock: %w", root, err)
	}
	return &Dir{root: root, max: max, lock: lock, statfs: statfs, orphans: orphans}, nil
}

// removeStale removes the staging directories in parent whose lock no live
// process holds, and returns the uploads their journals left open.
func removeStale(parent string) []Upload {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var orphans []Upload
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		f, err := os.Open(filepath.Join(dir, ".lock"))
		if err != nil {
			continue // not (yet) one of ours
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			orphans = append(orphans, readJournal(dir)...)
			os.RemoveAll(dir)
		}
		f.Close()
	}
	return orphans
}

// Root is the directory's path.
func (d *Dir) Root() string { return d.root }

// Used is the number of bytes present in the directory's files.
func (d *Dir) Used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

// Remove deletes the directory and everything in it (at unmount).
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.root)
	d.lock.Close()
	return err
}

// reserve charges n more bytes, or fails with ErrFull.
func (d *Dir) reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.max > 0 {
		if d.used+n > d.max {
			return fmt.Errorf("%w: %d bytes staged, %d more would pass the cap of %d", ErrFull, d.used, n, d.max)
		}
	} else if total, avail, err := d.statfs(d.root); err == nil && float64(avail-n) < minFreeFraction*float64(total) {
		return fmt.Errorf("%w: %d bytes more would leave less than 5%% of %s free", ErrFull, n, d.root)
	}
	d.used += n
	return nil
}

func (d *Dir) release(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.used -= n
}

func statfs(path string) (total, avail int64, err error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return 0, 0, err
	}
	return int64(s.Blocks) * s.Bsize, int64(s.Bavail) * s.Bsize, nil
}

// newPath names the next staged file.
func (d *Dir) newPath() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return filepath.Join(d.root, fmt.Sprintf("f%d", d.seq))
}
