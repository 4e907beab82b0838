package fs

import (
	"context"
	"strings"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // type bits only
}

// DirStream is one open directory listing: "." and "..", then every visible
// name in byte-wise lexicographic order, streamed page by page from
// ListObjectsV2 (see metadata.Lister) and merged with the local entries.
// Listings are not cached: every opendir (and rewind) asks S3, so objects
// other clients add or remove show up at once. Each entry is remembered with
// its stat for the metadata TTL, so the lookups that follow a listing
// (ls -l, readdirplus) cost no request.
type DirStream struct {
	f      *FS
	dir    *inode
	lister *metadata.Lister
	dots   int        // "." and ".." handed out so far
	gen    uint64     // this listing of dir, to forget children gone from the bucket (forget.go)
	opened time.Time  // when the listing began: what it shows is at least this fresh
	names  orderNames // the names listed, in order, up to maxOrderNames (order.go)

	// POSIX mode (statahead.go): entries read ahead of the caller.
	ahead    []metadata.Entry
	listDone bool
}

// OpenDir starts a listing of directory ino. It asks S3 nothing yet.
func (f *FS) OpenDir(ctx context.Context, ino uint64) (*DirStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, err := f.dirLocked(ino)
	if err != nil {
		return nil, err
	}
	l := metadata.NewLister(f.client, dir.key, 0)
	for name, cino := range dir.children {
		if c := f.inodes[cino]; c != nil && c.pending() {
			l.AddLocal(metadata.Entry{Name: name, Kind: c.kind})
		}
	}
	dir.fg.lists++
	return &DirStream{f: f, dir: dir, lister: l, gen: dir.fg.lists, opened: f.now()}, nil
}

// Next returns the next entry; ok is false at the end of the directory.
func (d *DirStream) Next(ctx context.Context) (e DirEntry, ok bool, err error) {
	f := d.f
	switch d.dots {
	case 0:
		d.dots++
		return DirEntry{Name: ".", Ino: d.dir.ino, Mode: syscall.S_IFDIR}, true, nil
	case 1:
		d.dots++
		return DirEntry{Name: "..", Ino: d.dir.parent, Mode: syscall.S_IFDIR}, true, nil
	}
	for {
		me, ok, err := d.pull(ctx)
		if err != nil {
			return DirEntry{}, false, wrapf(0, err, "readdir %q", d.dir.key)
		}
		f.mu.Lock()
		if !ok {
			d.forgetUnseenLocked()
			d.dir.listedUntil = d.opened.Add(f.cfg.DirTTL)
			f.setOrderLocked(d.dir, d.names.names)
			f.mu.Unlock()
			return DirEntry{}, false, nil
		}
		d.names.add(me.Name)
		c := f.childLocked(d.dir, me.Name)
		var in *inode
		switch {
		case me.Local && c != nil && c.pending():
			in = c
		case me.Local:
			f.mu.Unlock()
			continue // made local and gone again (rmdir, failed upload) since opendir
		case c != nil && me.Kind == metadata.File && c.pending():
			in = c // local shadows a remote file
		default:
			in = f.upsertLocked(d.dir, me, true)
		}
		in.fg.seen = max(in.fg.seen, d.gen)
		e := f.entryOfLocked(in)
		f.mu.Unlock()
		return e, true, nil
	}
}

// Close ends the listing: pages still being fetched ahead are given up.
func (d *DirStream) Close() { d.lister.Close() }

// forgetUnseenLocked drops remote children the complete listing no longer
// has: they were deleted from the bucket. REQUIRES(f.mu)
func (d *DirStream) forgetUnseenLocked() {
	for _, cino := range d.dir.children {
		if c := d.f.inodes[cino]; c != nil && c.fg.seen < d.gen && !c.pending() {
			d.f.detachLocked(c)
		}
	}
}

// entryOfLocked is in as a directory entry. In POSIX mode a file whose
// metadata no stat has read yet may be a symbolic link: its type is left
// unknown (DT_UNKNOWN), so programs stat it. REQUIRES(f.mu)
func (f *FS) entryOfLocked(in *inode) DirEntry {
	mode := uint32(syscall.S_IFREG)
	switch {
	case in.kind == metadata.Dir:
		mode = syscall.S_IFDIR
	case in.kind == metadata.Symlink:
		mode = syscall.S_IFLNK
	case f.cfg.Posix && !in.metaKnown && !in.pending():
		mode = 0
	}
	return DirEntry{Name: in.name, Ino: in.ino, Mode: mode}
}

// Mkdir makes a local directory. It is not written to the bucket: it exists
// in this mount until a file written inside it is uploaded (then the bucket
// has it through that key) or until the mount ends.
func (f *FS) Mkdir(ctx context.Context, parent uint64, name string) (Attr, error) {
	if f.cfg.ReadOnly {
		return Attr{}, errorf(syscall.EROFS, "mkdir %q: read-only mount", name)
	}
	if !metadata.ValidName(name) {
		return Attr{}, errorf(syscall.EINVAL, "mkdir %q: not a valid name", name)
	}
	if _, err := f.lookup(ctx, parent, name); err == nil {
		return Attr{}, errorf(syscall.EEXIST, "mkdir %q: file exists", name)
	} else if Errno(err) != syscall.ENOENT {
		return Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, err := f.dirLocked(parent)
	if err != nil {
		return Attr{}, err
	}
	if c := f.childLocked(dir, name); c != nil && (c.local || c.writer != nil) {
		return Attr{}, errorf(syscall.EEXIST, "mkdir %q: file exists", c.key)
	}
	if err := maxKeyErr(dir.key + name + "/"); err != nil {
		return Attr{}, err
	}
	in := f.newChildLocked(dir, name, metadata.Dir)
	in.local = true
	in.mtime = f.now()
	f.handOutLocked(in)
	return f.attrLocked(in), nil
}

// Rmdir removes an empty directory made by mkdir. Directories that exist in
// the bucket cannot be removed (they vanish when their last object does).
func (f *FS) Rmdir(ctx context.Context, parent uint64, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "rmdir %q: read-only mount", name)
	}
	in, err := f.lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	if in.kind != metadata.Dir {
		f.mu.Unlock()
		return errorf(syscall.ENOTDIR, "rmdir %q: not a directory", in.key)
	}
	if f.cfg.Posix && !in.local {
		f.mu.Unlock()
		return f.rmdirPosix(ctx, in)
	}
	for _, cino := range in.children {
		if c := f.inodes[cino]; c != nil && (c.local || c.writer != nil) {
			f.mu.Unlock()
			return errorf(syscall.ENOTEMPTY, "rmdir %q: directory not empty", in.key)
		}
	}
	key, local := in.key, in.local
	f.mu.Unlock()

	marker, err := f.emptyInBucket(ctx, key, "rmdir")
	if err != nil {
		return err
	}
	if !local || marker {
		return errorf(syscall.EPERM, "rmdir %q: the directory exists in the bucket (as a %q marker object); only directories made by mkdir in this mount can be removed", key, key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}

// emptyInBucket checks that the bucket has no key under the directory key
// but its marker (ENOTEMPTY otherwise), and reports whether the marker is there.
func (f *FS) emptyInBucket(ctx context.Context, key, op string) (marker bool, err error) {
	out, err := f.client.List(ctx, objstore.ListInput{Prefix: key, MaxKeys: 2})
	if err != nil {
		return false, wrapf(0, err, "%s %q", op, key)
	}
	for _, o := range out.Objects {
		if o.Key != key {
			return false, errorf(syscall.ENOTEMPTY, "%s %q: directory not empty", op, key)
		}
	}
	return len(out.Objects) > 0, nil
}

// Unlink deletes a file's object at once (needs --allow-delete).
func (f *FS) Unlink(ctx context.Context, parent uint64, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "unlink %q: read-only mount", name)
	}
	if !f.cfg.AllowDelete {
		return errorf(syscall.EPERM, "unlink %q: deleting files needs --allow-delete", name)
	}
	in, err := f.lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	key, st := in.key, in.st
	switch {
	case in.kind == metadata.Dir:
		f.mu.Unlock()
		return errorf(syscall.EISDIR, "unlink %q: is a directory", strings.TrimSuffix(key, "/"))
	case st != nil:
		f.mu.Unlock()
		return f.unlinkEdited(ctx, in, st)
	case in.writer != nil || in.local:
		f.mu.Unlock()
		return errorf(syscall.EPERM, "unlink %q: the file is being written; close it first", key)
	}
	f.mu.Unlock()
	if err := f.client.Delete(ctx, key); err != nil {
		return wrapf(0, err, "unlink %q", key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}

// Link is not supported: S3 has no hard links.
func (f *FS) Link(ctx context.Context, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "link %q: read-only mount", name)
	}
	return errorf(syscall.EPERM, "link %q: hard links are not supported", name)
}
