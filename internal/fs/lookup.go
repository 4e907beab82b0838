package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
)

// dirLocked returns the directory inode ino. REQUIRES(f.mu)
func (f *FS) dirLocked(ino uint64) (*inode, error) {
	in := f.inodes[ino]
	if in == nil {
		return nil, errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	if in.kind != metadata.Dir {
		return nil, errorf(syscall.ENOTDIR, "%q is not a directory", in.key)
	}
	return in, nil
}

// Lookup finds name in directory parent. A cached entry is used while its
// metadata TTL lasts; otherwise S3 is asked (a stat raced with LIST, or the
// stat alone for a file the directory's trusted listing showed).
func (f *FS) Lookup(ctx context.Context, parent uint64, name string) (Attr, error) {
	in, err := f.lookup(ctx, parent, name)
	if err != nil {
		return Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handOutLocked(in)
	return f.attrLocked(in), nil
}

// lookup is Lookup returning the inode.
func (f *FS) lookup(ctx context.Context, parent uint64, name string) (*inode, error) {
	if err := nameLenErr(name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	for {
		dir, err := f.dirLocked(parent)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		c := f.childLocked(dir, name)
		if c != nil && c.fetching != nil {
			// Fetched ahead right now (see ahead.go): its answer is ours.
			if err := f.awaitFetchLocked(ctx, c); err != nil {
				f.mu.Unlock()
				return nil, wrapf(0, err, "lookup %q", c.key)
			}
			continue
		}
		if c != nil && (c.pending() || f.now().Before(c.expiry)) {
			f.mu.Unlock()
			return c, nil
		}
		if c == nil && f.absentLocked(dir, name) {
			f.mu.Unlock()
			return nil, absentErr(dir, name)
		}
		listed := f.listedFileLocked(dir, c)
		f.mu.Unlock()

		e, lerr := f.fetchEntry(ctx, dir.key, name, listed)

		f.mu.Lock()
		defer f.mu.Unlock()
		in, err := f.applyEntryLocked(dir, name, e, lerr)
		if Errno(err) == syscall.ENOENT && f.childLocked(dir, name) == nil {
			f.noteAbsentLocked(dir, name)
		}
		return in, err
	}
}

// listedFileLocked reports whether c is a file that a complete listing of
// dir, still trusted, showed: then no directory of the same name existed,
// and refreshing c needs its stat alone. REQUIRES(f.mu)
func (f *FS) listedFileLocked(dir, c *inode) bool {
	return c != nil && c.kind == metadata.File && f.now().Before(dir.listedUntil)
}

// fetchEntry asks S3 what name in the directory dirKey is: a stat raced with
// a LIST of name/, or, for a listed file (listedFileLocked), the stat alone.
// Both refuse a name no key can have (metadata.ValidName) with ErrNotFound.
func (f *FS) fetchEntry(ctx context.Context, dirKey, name string, listedFile bool) (metadata.Entry, error) {
	if f.cfg.Posix && !listedFile {
		return f.fetchEntryWithMarker(ctx, dirKey, name)
	}
	if listedFile {
		e, err := metadata.StatFile(ctx, f.client, dirKey, name, f.statMax())
		if !errors.Is(err, metadata.ErrNotFound) {
			return e, err
		}
		// Gone since the listing: it may have become a directory.
	}
	return metadata.Lookup(ctx, f.client, dirKey, name, f.statMax())
}

// applyEntryLocked records what fetchEntry answered for name in dir and
// returns its inode. REQUIRES(f.mu)
func (f *FS) applyEntryLocked(dir *inode, name string, e metadata.Entry, lerr error) (*inode, error) {
	c := f.childLocked(dir, name)
	if lerr != nil {
		if c != nil && c.pending() {
			return c, nil // made locally while we asked S3
		}
		if errors.Is(lerr, metadata.ErrNotFound) {
			if c != nil {
				f.detachLocked(c)
			}
			return nil, errorf(syscall.ENOENT, "lookup %q: no such file or directory", dir.key+name)
		}
		return nil, wrapf(0, lerr, "lookup %q", dir.key+name)
	}
	if c != nil && c.local && e.Kind != metadata.Dir {
		return c, nil // a local entry shadows a remote file
	}
	return f.upsertLocked(dir, e, false), nil
}

// Getattr returns ino's attributes, asking S3 again once they have expired.
func (f *FS) Getattr(ctx context.Context, ino uint64) (Attr, error) {
	f.mu.Lock()
	in := f.inodes[ino]
	if in == nil {
		f.mu.Unlock()
		return Attr{}, errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	if ino == RootIno || in.pending() || in.removed || f.now().Before(in.expiry) {
		a := f.attrLocked(in)
		f.mu.Unlock()
		return a, nil
	}
	parent, name := in.parent, in.name
	f.mu.Unlock()

	fresh, err := f.lookup(ctx, parent, name)
	if err != nil {
		return Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fresh != in {
		// The name now refers to something else (deleted and re-created
		// as another kind): this inode is gone.
		return Attr{}, errorf(syscall.ENOENT, "%q was replaced", in.key)
	}
	return f.attrLocked(in), nil
}

// SetattrIn lists the attribute changes of one setattr request; nil fields
// are not changed.
type SetattrIn struct {
	Size         *int64
	Mode         *uint32
	UID, GID     *uint32
	Atime, Mtime *time.Time
}

// Setattr changes attributes. Only a file being written accepts changes, and
// only of its times or a size equal to what it holds (truncation as part of
// O_TRUNC); ownership and modes come from the mount options.
func (f *FS) Setattr(ctx context.Context, ino uint64, in SetattrIn) (Attr, error) {
	if f.cfg.ReadOnly {
		return Attr{}, errorf(syscall.EROFS, "setattr: read-only mount")
	}
	if f.editing() {
		return f.setattrEdit(ctx, ino, in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	node := f.inodes[ino]
	if node == nil {
		return Attr{}, errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	if in.Mode != nil || in.UID != nil || in.GID != nil {
		return Attr{}, errorf(syscall.EPERM, "chmod/chown %q: modes and owners are set by --file-mode/--dir-mode/--uid/--gid", node.key)
	}
	if node.writer == nil {
		if in.Size != nil && !f.cfg.AllowOverwrite {
			return Attr{}, errorf(syscall.EPERM, "truncate %q: overwriting files needs --allow-overwrite and open with O_TRUNC", node.key)
		}
		return Attr{}, errorf(syscall.EPERM, "setattr %q: only files being written can change", node.key)
	}
	if in.Size != nil && *in.Size != node.writer.writer.Size() {
		return Attr{}, errorf(syscall.EPERM, "truncate %q to %d: files are written sequentially and cannot change size", node.key, *in.Size)
	}
	if in.Mtime != nil {
		node.mtime = *in.Mtime
	}
	return f.attrLocked(node), nil
}
