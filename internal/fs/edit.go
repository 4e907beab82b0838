package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/prefetch"
)

// Staged handles: every open of a file being edited, and every open for
// writing when the mount edits in place (see posix.go).

// openEdit opens ino through its staged edit: always when one exists (so
// readers in this mount see the writes), and for writing otherwise, which
// starts one. It returns nil, nil for a read open of a file not being
// edited: that is an ordinary reader.
func (f *FS) openEdit(ctx context.Context, ino uint64, flags uint32, c Caller) (*Handle, error) {
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	f.mu.Lock()
	in, err := f.inodeFetchedLocked(ctx, ino)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	switch {
	case in == nil || in.removed:
		f.mu.Unlock()
		return nil, errorf(syscall.ENOENT, "open inode %d: no longer exists", ino)
	case in.kind == metadata.Dir:
		f.mu.Unlock()
		return nil, errorf(syscall.EISDIR, "open %q: is a directory", in.key)
	case in.kind == metadata.Symlink:
		f.mu.Unlock()
		return nil, errorf(syscall.ELOOP, "open %q: is a symbolic link", in.key)
	case write && f.cfg.ReadOnly:
		f.mu.Unlock()
		return nil, errorf(syscall.EROFS, "open %q for writing: read-only mount", in.key)
	case in.writer != nil:
		f.mu.Unlock()
		return nil, errorf(syscall.EPERM, "open %q: the file is being written", in.key)
	}
	if st := in.st; st != nil {
		h := f.attachLocked(in, st, flags, c)
		f.mu.Unlock()
		return h, f.truncateOnOpen(h, flags)
	}
	if !write {
		f.mu.Unlock()
		return nil, nil
	}
	stale := !f.now().Before(in.expiry) || (f.cfg.Posix && !in.metaKnown)
	key := in.key
	f.mu.Unlock()

	var fresh *metadata.Entry
	if stale {
		info, data, err := metadata.Stat(ctx, f.client, key, f.statMax())
		if err != nil {
			return nil, wrapf(0, err, "open %q", key)
		}
		e := metadata.Entry{Name: in.name, Kind: metadata.File, Size: info.Size, ETag: info.ETag,
			Mtime: info.LastModified, Data: data, Meta: info.Metadata}
		fresh = &e
	}
	f.mu.Lock()
	if fresh != nil && in.st == nil {
		f.setStatLocked(in, fresh.Size, fresh.ETag, fresh.Mtime, fresh.Data)
		if f.cfg.Posix {
			f.setAttrsLocked(in, *fresh)
		}
	}
	if st := in.st; st != nil { // another open started the edit meanwhile
		h := f.attachLocked(in, st, flags, c)
		f.mu.Unlock()
		return h, f.truncateOnOpen(h, flags)
	}
	key, etag, size, meta := in.key, in.etag, in.size, in.meta
	f.mu.Unlock()

	st, err := f.newStaged(ctx, key, etag, size, meta, flags&syscall.O_TRUNC == 0)
	if err != nil {
		return nil, wrapf(0, err, "open %q for writing", key)
	}
	f.mu.Lock()
	if in.st != nil || in.removed || in.etag != etag {
		// Raced with another open, an unlink or a newer stat: start over.
		f.mu.Unlock()
		f.dropStaged(st)
		return f.openEdit(ctx, ino, flags, c)
	}
	in.st = st
	f.edits[st] = in
	h := f.attachLocked(in, st, flags, c)
	f.mu.Unlock()
	return h, f.truncateOnOpen(h, flags)
}

// newStaged starts an edit of key at etag (size bytes, metadata meta). With
// fill, a small object is fetched whole now (see wholeFetchMax).
func (f *FS) newStaged(ctx context.Context, key, etag string, size int64, meta map[string]string, fill bool) (*staged, error) {
	src := f.baseReader(key, etag, size)
	file, err := f.cfg.Stage.New(size, stageSource(src))
	if err != nil {
		if src != nil {
			src.Close()
		}
		return nil, err
	}
	st := &staged{file: file, baseKey: key, baseETag: etag, baseSize: size, condETag: etag, baseMeta: meta, src: src}
	if fill && size <= wholeFetchMax {
		if err := file.Fill(ctx, 0, size); err != nil {
			f.dropStaged(st)
			return nil, err
		}
	}
	return st, nil
}

// dropStaged discards an edit nobody uses any more.
func (f *FS) dropStaged(st *staged) {
	if st.behind != nil {
		st.behind.Abort()
	}
	if err := st.file.Close(); err != nil {
		f.log.Warn("removing a staged file failed", "error", err)
	}
	if st.src != nil {
		st.src.Close()
	}
}

// attachLocked opens a handle on in's edit st. REQUIRES(f.mu)
func (f *FS) attachLocked(in *inode, st *staged, flags uint32, c Caller) *Handle {
	st.handles++
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	// The kernel's cached pages are of the version the edit started from,
	// and every write goes through them: keep them when they are.
	keep := in.cachedETag != "" && in.cachedETag == st.baseETag
	in.cachedETag = st.baseETag
	return &Handle{in: in, openPid: f.tgid(c.Pid), st: st, canWrite: write,
		append: flags&syscall.O_APPEND != 0, KeepCache: keep}
}

// truncateOnOpen applies O_TRUNC of a write open to the edit.
func (f *FS) truncateOnOpen(h *Handle, flags uint32) error {
	if !h.canWrite || flags&syscall.O_TRUNC == 0 {
		return nil
	}
	if err := f.truncateStaged(h.in, h.st, 0); err != nil {
		f.Release(context.Background(), h)
		return err
	}
	return nil
}

// truncateStaged sets the size of an edit.
func (f *FS) truncateStaged(in *inode, st *staged, size int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	f.abandonBehindLocked(st)
	if err := st.file.Truncate(size); err != nil {
		return wrapf(0, err, "truncate %q", in.key)
	}
	// Emptied: what is written in order from here can go up behind the writer.
	st.sequential = size == 0
	f.mu.Lock()
	in.size = size
	f.touchLocked(in)
	f.mu.Unlock()
	return nil
}

// createEdit is Create when the mount edits in place: the new file is an
// edit of nothing, committed with If-None-Match. An existing name is
// opened instead, unless O_EXCL.
func (f *FS) createEdit(ctx context.Context, parent uint64, name string, flags, mode uint32, c Caller) (Attr, *Handle, error) {
	existing, err := f.lookup(ctx, parent, name)
	switch {
	case err == nil && flags&syscall.O_EXCL != 0:
		return Attr{}, nil, errorf(syscall.EEXIST, "create %q: file exists", name)
	case err == nil:
		h, err := f.openEdit(ctx, existing.ino, flags|syscall.O_WRONLY, c)
		if err != nil {
			return Attr{}, nil, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.attrLocked(existing), h, nil
	case Errno(err) != syscall.ENOENT:
		return Attr{}, nil, err
	}
	f.mu.Lock()
	dir, err := f.dirLocked(parent)
	if err == nil && dir.removed {
		err = errorf(syscall.ENOENT, "create %q: directory was removed", dir.key+name)
	}
	if err == nil {
		if ch := f.childLocked(dir, name); ch != nil && ch.pending() {
			err = errorf(syscall.EEXIST, "create %q: file exists", ch.key)
		} else {
			err = maxKeyErr(dir.key + name)
		}
	}
	if err != nil {
		f.mu.Unlock()
		return Attr{}, nil, err
	}
	f.mu.Unlock()

	st, err := f.newStaged(ctx, "", "", 0, nil, false)
	if err != nil {
		return Attr{}, nil, wrapf(0, err, "create %q", name)
	}
	st.created, st.sequential = true, true
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.childLocked(dir, name); ch != nil && ch.pending() {
		f.dropStaged(st)
		return Attr{}, nil, errorf(syscall.EEXIST, "create %q: file exists", ch.key)
	}
	in := f.newChildLocked(dir, name, metadata.File)
	in.local = true
	in.mtime = f.now()
	if f.cfg.Posix {
		in.attrs = f.newAttrs(syscall.S_IFREG, mode, c)
		in.attrs.Mtime = time.Time{}
		in.metaKnown = true
	}
	in.st = st
	f.edits[st] = in
	h := f.attachLocked(in, st, flags|syscall.O_WRONLY, c)
	return f.attrLocked(in), h, nil
}

// writeStaged writes through an edit. O_APPEND handles write at the end
// as this mount knows it, whatever offset the kernel computed.
func (f *FS) writeStaged(ctx context.Context, h *Handle, data []byte, off int64) (int, error) {
	if !h.canWrite {
		return 0, errorf(syscall.EBADF, "write %q: the file is open for reading only", h.in.key)
	}
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	before := st.file.Size()
	if h.append {
		off = before
	}
	n, err := st.file.WriteAt(data, off)
	if err != nil {
		return 0, wrapf(0, err, "write %q", h.in.key)
	}
	f.noteWriteLocked(ctx, h.in, st, off, off+int64(n), before)
	f.mu.Lock()
	h.in.size = st.file.Size()
	f.touchLocked(h.in)
	f.mu.Unlock()
	return n, nil
}

// readStaged reads through an edit: the local copy, or the base for what
// it does not hold yet.
func (f *FS) readStaged(ctx context.Context, h *Handle, dest []byte, off int64) ([]byte, error) {
	n, err := h.st.file.ReadAt(ctx, dest, off)
	if err != nil {
		if errors.Is(err, prefetch.ErrChanged) {
			return nil, wrapf(syscall.ESTALE, err, "read %q", h.in.key)
		}
		return nil, wrapf(syscall.EIO, err, "read %q", h.in.key)
	}
	return dest[:n], nil
}

// flushStaged is close() of a staged handle: it commits what changed. As
// for sequential writers (see Flush), a close from another process than
// the one that opened the file (a fork()ed child closing what it
// inherited), or of a new file nothing was written to yet (touch, shell
// redirections closing a duplicate), commits nothing: the opener's next
// close, or the last one, does. A close by a process killed by a signal
// commits nothing either (see releaseStaged).
func (f *FS) flushStaged(ctx context.Context, h *Handle, pid uint32) error {
	if !h.canWrite {
		return nil // a reader's close; the writers' closes commit
	}
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if f.tgid(pid) != h.openPid {
		return nil
	}
	if f.killed(pid) {
		st.killed = true
		return nil
	}
	st.killed = false
	if st.created && !st.metaChanged && !st.file.Changed() {
		return nil
	}
	return f.commitStagedLocked(ctx, h.in, st)
}

// releaseStaged is the last close of a staged handle. The last handle of an
// edit commits what is left (an error can only be logged) unless a killed
// process made the last changes, and removes the local copy.
func (f *FS) releaseStaged(ctx context.Context, h *Handle) error {
	st := h.st
	st.mu.Lock()
	var err error
	f.mu.Lock()
	last := st.handles == 1
	f.mu.Unlock()
	if last && st.conflict == nil && (st.created || st.metaChanged || st.file.Changed()) {
		if st.killed {
			f.log.Warn("the process editing the file was killed before it closed it; its changes are dropped", "key", h.in.key)
		} else {
			err = f.commitStagedLocked(ctx, h.in, st)
		}
	}
	f.mu.Lock()
	st.handles--
	drop := st.handles == 0
	in := h.in
	if drop {
		if in.st == st {
			in.st = nil
		}
		delete(f.edits, st)
		if st.created && !in.removed {
			f.detachLocked(in) // never made it to the bucket
		}
		if st.conflict != nil || st.created {
			in.expiry = f.now() // look the object up again
		}
	}
	f.mu.Unlock()
	st.mu.Unlock()
	if drop {
		f.dropStaged(st)
	}
	return err
}
