package fs

import (
	"container/list"
	"context"
	"slices"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
)

// Files read one after another in the order of their directory's listing
// (cat dir/*, tar, cp -r, grep -r) each cost a round trip before their first
// byte, even small ones: the GET of their lookup or open. When a program
// opens the files of a listed directory in that order, fast enough that their
// stats would still be fresh, the next aheadFiles small files are fetched in
// parallel with the very request their own lookup would send (fetchEntry), so
// the lookup and open that follow find the stat and the content waiting.
// What arrives is an ordinary stat, trusted for the file TTL like any other,
// and the content waits in the held contents (content.go) under their limit.

const (
	// aheadFiles is how many files past the one opened are fetched ahead.
	aheadFiles = 8
	// aheadStreak is how many opens in listing order, each soon after the
	// one before, start fetching ahead.
	aheadStreak = 3
)

// dirOrder is what a directory remembers of its last complete listing for
// fetching ahead. GUARDED_BY(FS.mu)
type dirOrder struct {
	names  []string  // in name order, as listed
	last   int       // index in names of the last file opened, -1 for none
	lastAt time.Time // when it was opened
	streak int       // opens so far, each the next name soon after the last

	elem *list.Element // in FS.orders (order.go)
}

// noteOpenLocked records a read open of in; when the opens of its directory
// follow the listing order, it fetches the next small files ahead.
// REQUIRES(f.mu)
func (f *FS) noteOpenLocked(in *inode) {
	dir := f.inodes[in.parent]
	if dir == nil || dir.order == nil || f.statMax() == 0 {
		return
	}
	o := dir.order
	i, found := slices.BinarySearch(o.names, in.name)
	if !found {
		o.streak = 0
		return
	}
	now := f.now()
	// Fetching ahead pays only when the stats fetched are still fresh
	// when their files are opened: the opens must come within the file TTL.
	if f.nextFileLocked(dir, o, i) && now.Sub(o.lastAt) < f.cfg.FileTTL/2 {
		o.streak++
	} else {
		o.streak = 1
	}
	o.last, o.lastAt = i, now
	if o.streak < aheadStreak {
		return
	}
	for _, name := range o.names[i+1 : min(i+1+aheadFiles, len(o.names))] {
		c := f.childLocked(dir, name)
		if c == nil || c.kind != metadata.File || c.local || c.writer != nil || c.readers > 0 ||
			c.fetching != nil || c.content != nil || c.size > f.statMax() {
			continue
		}
		f.fetchAheadLocked(dir, c)
	}
}

// nextFileLocked reports whether names[i] is the first file after the last
// one opened: only directories (which `cat dir/*` or `cp -r` do not open as
// files) or names gone since the listing lie between them. REQUIRES(f.mu)
func (f *FS) nextFileLocked(dir *inode, o *dirOrder, i int) bool {
	if i <= o.last || i-o.last > aheadFiles {
		return false
	}
	for _, name := range o.names[o.last+1 : i] {
		if c := f.childLocked(dir, name); c != nil && c.kind == metadata.File {
			return false
		}
	}
	return true
}

// fetchAheadLocked refreshes c in the background, as a lookup of it would.
// REQUIRES(f.mu)
func (f *FS) fetchAheadLocked(dir, c *inode) {
	done := make(chan struct{})
	c.fetching = done
	listed := f.listedFileLocked(dir, c)
	go func() {
		e, err := f.fetchEntry(context.Background(), dir.key, c.name, listed)
		f.mu.Lock()
		defer f.mu.Unlock()
		c.fetching = nil
		close(done)
		if _, err := f.applyEntryLocked(dir, c.name, e, err); err != nil {
			f.log.Debug("fetching ahead failed; the file's own lookup will ask again", "key", c.key, "error", err)
		}
	}()
}

// awaitFetchLocked waits for in's fetch ahead to finish, with f.mu released
// meanwhile. REQUIRES(f.mu)
func (f *FS) awaitFetchLocked(ctx context.Context, in *inode) error {
	done := in.fetching
	f.mu.Unlock()
	defer f.mu.Lock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inodeFetchedLocked returns inode ino once no fetch ahead of it is in
// flight (nil if it is not known). REQUIRES(f.mu)
func (f *FS) inodeFetchedLocked(ctx context.Context, ino uint64) (*inode, error) {
	in := f.inodes[ino]
	for in != nil && in.fetching != nil {
		// Being fetched ahead: its stat and content are ours.
		if err := f.awaitFetchLocked(ctx, in); err != nil {
			return nil, wrapf(0, err, "open %q", in.key)
		}
	}
	return in, nil
}
