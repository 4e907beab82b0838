package fs

import (
	"context"
	"errors"
	"sync"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/prefetch"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// Handle is one open file: a reader or a writer, for its whole life.
type Handle struct {
	in      *inode
	openPid uint32 // process (thread group) that opened the file

	mu sync.Mutex // serializes the handle's operations; see LOCK ORDERING

	shared *sharedReader // read handles: the version's read-ahead, shared by its handles
	// KeepCache tells the kernel it may keep the file's cached pages: they
	// are of the very version (ETag) this handle reads.
	KeepCache bool

	writer   *upload.Writer // write handles
	created  bool           // the file did not exist in the bucket before
	flushed  bool           // a close() deferred the upload (see Flush)
	finished bool           // the upload completed or failed; result in err
	err      error
	released bool

	// Staged handles (edit.go): every handle of a file being edited.
	st       *staged
	canWrite bool
	append   bool // O_APPEND: writes go to the end as the mount knows it
}

// Ino is the inode the handle belongs to.
func (h *Handle) Ino() uint64 { return h.in.ino }

// IsWriter reports whether the handle writes sequentially to an upload
// (FOPEN_DIRECT_IO: its data does not go through the page cache).
func (h *Handle) IsWriter() bool { return h.writer != nil }

// Staged reports whether the handle works on a staged edit: its reads and
// writes go through the page cache (so writable shared mmap works) and its
// close commits.
func (h *Handle) Staged() bool { return h.st != nil }

// Writable reports whether the handle was opened for writing.
func (h *Handle) Writable() bool { return h.writer != nil || h.canWrite }

// maxKeyErr checks S3's key length limit.
func maxKeyErr(key string) error {
	if len(key) > metadata.MaxKeyLen {
		return errorf(syscall.ENAMETOOLONG, "key %q is longer than S3's %d bytes", key, metadata.MaxKeyLen)
	}
	return nil
}

// Create makes a new file name in parent and opens it for writing.
func (f *FS) Create(ctx context.Context, parent uint64, name string, flags uint32, pid uint32) (Attr, *Handle, error) {
	return f.CreateAs(ctx, parent, name, flags, f.cfg.FileMode, Caller{Pid: pid, UID: f.cfg.UID, GID: f.cfg.GID})
}

// CreateAs is Create by caller c with permission bits mode (which POSIX
// mode records, with c as the owner).
func (f *FS) CreateAs(ctx context.Context, parent uint64, name string, flags, mode uint32, c Caller) (Attr, *Handle, error) {
	pid := c.Pid
	if f.cfg.ReadOnly {
		return Attr{}, nil, errorf(syscall.EROFS, "create %q: read-only mount", name)
	}
	if flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0 {
		return Attr{}, nil, errorf(syscall.EINVAL, "create %q: O_SYNC/O_DSYNC are not supported (objects are uploaded at close)", name)
	}
	if !metadata.ValidName(name) {
		return Attr{}, nil, errorf(syscall.EINVAL, "create %q: not a valid name", name)
	}
	if f.editing() {
		return f.createEdit(ctx, parent, name, flags, mode, c)
	}
	existing, err := f.lookup(ctx, parent, name)
	switch {
	case err == nil:
		f.mu.Lock()
		key := existing.key
		f.mu.Unlock()
		return Attr{}, nil, errorf(syscall.EEXIST, "create %q: file exists", key)
	case Errno(err) != syscall.ENOENT:
		return Attr{}, nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	dir, err := f.dirLocked(parent)
	if err != nil {
		return Attr{}, nil, err
	}
	if c := f.childLocked(dir, name); c != nil && (c.local || c.writer != nil) {
		return Attr{}, nil, errorf(syscall.EEXIST, "create %q: file exists", c.key)
	}
	if dir.removed {
		return Attr{}, nil, errorf(syscall.ENOENT, "create %q: directory was removed", dir.key+name)
	}
	if err := maxKeyErr(dir.key + name); err != nil {
		return Attr{}, nil, err
	}
	in := f.newChildLocked(dir, name, metadata.File)
	in.local = true
	in.mtime = f.now()
	h := f.newWriterLocked(in, pid)
	h.created = true
	f.handOutLocked(in)
	return f.attrLocked(in), h, nil
}

// newWriterLocked attaches a write handle to in. REQUIRES(f.mu)
func (f *FS) newWriterLocked(in *inode, pid uint32) *Handle {
	h := &Handle{in: in, openPid: f.tgid(pid),
		writer: upload.New(f.client, in.key, f.cfg.WritePartSize, f.cfg.MaxThreads, f.log, upload.WithBudget(f.budget))}
	in.writer = h
	in.size = 0
	in.cachedETag = "" // new contents: the next read open drops cached pages
	f.dropContentLocked(in)
	f.writers[h] = true
	return h
}

// Open opens an existing file. A handle reads unless the file is opened for
// writing with O_TRUNC (and --allow-overwrite); other writes to existing
// files are refused, as S3 objects cannot be modified in place.
func (f *FS) Open(ctx context.Context, ino uint64, flags uint32, pid uint32) (*Handle, error) {
	return f.OpenAs(ctx, ino, flags, Caller{Pid: pid, UID: f.cfg.UID, GID: f.cfg.GID})
}

// OpenAs is Open by caller c. When the mount edits in place, an open for
// writing (with or without O_TRUNC, O_APPEND) or of a file being edited is a
// staged handle (edit.go).
func (f *FS) OpenAs(ctx context.Context, ino uint64, flags uint32, c Caller) (*Handle, error) {
	pid := c.Pid
	if flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0 {
		return nil, errorf(syscall.EINVAL, "open: O_SYNC/O_DSYNC are not supported (objects are uploaded at close)")
	}
	if err := f.completePending(ctx, ino); err != nil {
		return nil, err
	}
	if f.editing() {
		if h, err := f.openEdit(ctx, ino, flags, c); h != nil || err != nil {
			return h, err
		}
	}
	acc := flags & syscall.O_ACCMODE
	wantsWrite := acc == syscall.O_WRONLY || (acc == syscall.O_RDWR && flags&syscall.O_TRUNC != 0)
	if wantsWrite {
		return f.openWrite(ino, flags, pid)
	}
	return f.openRead(ctx, ino)
}

// completePending finishes an upload that a close() deferred, so a new open
// sees the completed object.
func (f *FS) completePending(ctx context.Context, ino uint64) error {
	f.mu.Lock()
	in := f.inodes[ino]
	if in == nil {
		f.mu.Unlock()
		return errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	w := in.writer
	f.mu.Unlock()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.flushed || w.finished {
		if !w.finished {
			return errorf(syscall.EPERM, "open %q: the file is being written", in.key)
		}
		return nil
	}
	// The upload result is reported to the writer's last close; a new opener
	// only needs the upload to be over.
	_ = f.completeLocked(ctx, w)
	return nil
}

func (f *FS) openWrite(ino uint64, flags uint32, pid uint32) (*Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.inodes[ino]
	switch {
	case in == nil || in.removed:
		return nil, errorf(syscall.ENOENT, "open inode %d: no longer exists", ino)
	case in.kind == metadata.Dir:
		return nil, errorf(syscall.EISDIR, "open %q for writing: is a directory", in.key)
	case f.cfg.ReadOnly:
		return nil, errorf(syscall.EROFS, "open %q for writing: read-only mount", in.key)
	case in.writer != nil:
		return nil, errorf(syscall.EPERM, "open %q for writing: the file is already being written", in.key)
	case !f.cfg.AllowOverwrite:
		return nil, errorf(syscall.EPERM, "open %q for writing: the file exists; overwriting needs --allow-overwrite and O_TRUNC", in.key)
	case flags&syscall.O_TRUNC == 0:
		return nil, errorf(syscall.EPERM, "open %q for writing: existing files can only be replaced whole, open with O_TRUNC (append and in-place edits are not supported)", in.key)
	case in.readers > 0:
		return nil, errorf(syscall.EPERM, "open %q for writing: the file is open for reading", in.key)
	}
	in.mtime = f.now()
	return f.newWriterLocked(in, pid), nil
}

func (f *FS) openRead(ctx context.Context, ino uint64) (*Handle, error) {
	f.mu.Lock()
	in, err := f.inodeFetchedLocked(ctx, ino)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if in == nil || in.removed {
		f.mu.Unlock()
		return nil, errorf(syscall.ENOENT, "open inode %d: no longer exists", ino)
	}
	if in.kind == metadata.Dir {
		f.mu.Unlock()
		return nil, errorf(syscall.EISDIR, "open %q: is a directory", in.key)
	}
	if in.writer != nil || in.local {
		f.mu.Unlock()
		return nil, errorf(syscall.EPERM, "open %q for reading: the file is being written", in.key)
	}
	expired := !f.now().Before(in.expiry)
	key := in.key
	f.mu.Unlock()

	type stat struct {
		info objstore.ObjectInfo
		data []byte
	}
	var fresh *stat
	if expired {
		// Pin the read to the object's current version, not a stale stat.
		// The kernel has just resolved the name to this file, so one stat
		// is enough (no LIST for a directory of the same name).
		info, data, err := metadata.Stat(ctx, f.client, key, f.statMax())
		if err != nil {
			return nil, wrapf(0, err, "open %q", key)
		}
		fresh = &stat{info, data}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.writer != nil {
		return nil, errorf(syscall.EPERM, "open %q for reading: the file is being written", in.key)
	}
	if fresh != nil {
		if err := staleOpenErr(in, fresh.info.ETag); err != nil {
			return nil, err
		}
		f.setStatLocked(in, fresh.info.Size, fresh.info.ETag, fresh.info.LastModified, fresh.data)
	}
	in.readers++
	f.noteOpenLocked(in)
	keep := in.etag != "" && in.etag == in.cachedETag
	in.cachedETag = in.etag
	sh := in.shared
	if sh == nil || sh.etag != in.etag || in.etag == "" {
		var r *prefetch.Reader
		if data := f.takeContentLocked(in); data != nil {
			n := int64(len(data))
			r = prefetch.NewFromContent(in.key, in.etag, data, func() { f.budget.Release(n) })
		} else {
			pc := prefetch.Config{PartSize: f.readPart(), MaxWindow: f.readWindow()}
			r = prefetch.New(f.client, in.key, in.etag, in.size, pc, f.budget)
		}
		sh = &sharedReader{r: r, etag: in.etag}
		in.shared = sh // handles of an older version keep theirs
	}
	sh.refs++
	return &Handle{in: in, KeepCache: keep, shared: sh}, nil
}

// readPart is the largest GET of a read: --read-part-size, but no more than
// an eighth of the memory budget (rounded down to a power of two, at least
// 1 MiB). Each read stream may overdraw the budget by the chunk it waits
// on, so a small --memory-target also gets small chunks.
func (f *FS) readPart() int64 {
	part := f.cfg.ReadPartSize
	if part <= 0 {
		part = 8 << 20
	}
	limit := int64(1) << 20
	for limit*2 <= f.budget.Limit()/8 {
		limit *= 2
	}
	return min(part, limit)
}

// readWindow is the most one reader prefetches: 8 parts, and no more than
// half the memory budget so that a few readers share it.
func (f *FS) readWindow() int64 {
	part := f.readPart()
	return max(part, min(8*part, f.budget.Limit()/2))
}

// Read reads from a read handle at off into dest. It returns fewer bytes
// than asked only at the end of the file.
func (f *FS) Read(ctx context.Context, h *Handle, dest []byte, off int64) (int, error) {
	data, release, err := f.ReadView(ctx, h, dest, off)
	if err != nil {
		return 0, err
	}
	n := copy(dest, data)
	release()
	return n, nil
}

// ReadView is Read without a copy where possible: data may be a view of the
// handle's read-ahead buffers, valid until release is called (exactly once,
// when err is nil); otherwise it is dest.
func (f *FS) ReadView(ctx context.Context, h *Handle, dest []byte, off int64) (data []byte, release func(), err error) {
	if h.st != nil {
		data, err := f.readStaged(ctx, h, dest, off)
		if err != nil {
			return nil, nil, err
		}
		return data, func() {}, nil
	}
	if h.shared == nil {
		return nil, nil, errorf(syscall.EBADF, "read %q: the file is open for writing only", h.in.key)
	}
	data, release, err = h.shared.r.ReadView(ctx, dest, off)
	if err != nil {
		if errors.Is(err, prefetch.ErrChanged) ||
			errors.Is(err, objstore.ErrNotFound) || errors.Is(err, objstore.ErrPreconditionFailed) {
			return nil, nil, wrapf(syscall.ESTALE, err, "read %q", h.in.key)
		}
		return nil, nil, wrapf(syscall.EIO, err, "read %q", h.in.key)
	}
	return data, release, nil
}
