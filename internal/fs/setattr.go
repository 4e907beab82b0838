package fs

import (
	"context"
	"errors"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// setattrEdit is Setattr when the mount edits in place or keeps POSIX
// attributes. A size change truncates the file's edit (one is started and
// committed at once when the file is not open). Attribute changes (POSIX
// mode) of an open file are committed with its next commit; of a closed
// one, at once: a copy of the object onto itself with the new metadata,
// pinned to its ETag (no data is sent). The bucket root has no object: its
// attributes change for the life of the mount only.
func (f *FS) setattrEdit(ctx context.Context, ino uint64, req SetattrIn) (Attr, error) {
	f.mu.Lock()
	node := f.inodes[ino]
	if node == nil {
		f.mu.Unlock()
		return Attr{}, errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	attrsChange := req.Mode != nil || req.UID != nil || req.GID != nil || req.Mtime != nil
	if attrsChange && !f.cfg.Posix {
		f.mu.Unlock()
		if req.Mode != nil || req.UID != nil || req.GID != nil {
			return Attr{}, errorf(syscall.EPERM, "chmod/chown %q: modes and owners are kept only with --posix", node.key)
		}
		return Attr{}, errorf(syscall.EPERM, "utimes %q: times are kept only with --posix", node.key)
	}
	kind, st := node.kind, node.st
	f.mu.Unlock()

	if req.Size != nil {
		if kind == metadata.Dir {
			return Attr{}, errorf(syscall.EISDIR, "truncate %q: is a directory", node.key)
		}
		if err := f.truncate(ctx, node, st, *req.Size); err != nil {
			return Attr{}, err
		}
	}
	if attrsChange {
		apply := func(a *metadata.Attrs) {
			if req.Mode != nil {
				a.Mode = a.Mode&syscall.S_IFMT | *req.Mode&0o7777
			}
			if req.UID != nil {
				a.UID, a.HasUID = *req.UID, true
			}
			if req.GID != nil {
				a.GID, a.HasGID = *req.GID, true
			}
			if req.Mtime != nil {
				a.Mtime = *req.Mtime
			}
		}
		if err := f.changeAttrs(ctx, node, apply); err != nil {
			return Attr{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attrLocked(node), nil
}

// truncate sets a file's size: through its edit when it is open, else by
// a one-off edit committed now.
func (f *FS) truncate(ctx context.Context, node *inode, st *staged, size int64) error {
	if size < 0 {
		return errorf(syscall.EINVAL, "truncate %q to %d", node.key, size)
	}
	if st != nil {
		return f.truncateStaged(node, st, size)
	}
	flags := uint32(syscall.O_WRONLY)
	if size == 0 {
		flags |= syscall.O_TRUNC // nothing of the old contents is needed
	}
	h, err := f.openEdit(ctx, node.ino, flags, Caller{})
	if err != nil {
		return err
	}
	err = f.truncateStaged(node, h.st, size)
	if err == nil {
		err = f.Fsync(ctx, h)
	}
	if rerr := f.Release(ctx, h); err == nil {
		err = rerr
	}
	return err
}

// changeAttrs applies apply to node's attributes and stores them.
func (f *FS) changeAttrs(ctx context.Context, node *inode, apply func(*metadata.Attrs)) error {
	f.mu.Lock()
	if node.ino == RootIno {
		a := node.attrs
		if a.Mode == 0 {
			a.Mode = syscall.S_IFDIR | f.cfg.DirMode
		}
		apply(&a)
		node.attrs = a
		f.mu.Unlock()
		return nil
	}
	st := node.st
	f.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		f.mu.Lock()
		defer f.mu.Unlock()
		if node.st != st {
			return errorf(syscall.ESTALE, "setattr %q: the file was closed meanwhile", node.key)
		}
		f.applyAttrsLocked(node, apply)
		st.metaChanged = true
		return nil
	}
	// Another client may have changed the object since it was looked at:
	// the change is applied to what the bucket has now, once more if the
	// object changes under the copy.
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = f.storeAttrs(ctx, node, apply, attempt > 0); !isConflictErr(err) {
			break
		}
	}
	if err != nil {
		return wrapf(0, err, "setattr %q", node.key)
	}
	return nil
}

// applyAttrsLocked applies apply to node's attributes, starting from the
// mount's defaults where its object has none. REQUIRES(f.mu)
func (f *FS) applyAttrsLocked(node *inode, apply func(*metadata.Attrs)) {
	a := node.attrs
	if a.Mode == 0 {
		switch node.kind {
		case metadata.Dir:
			a.Mode = syscall.S_IFDIR | f.cfg.DirMode
		case metadata.Symlink:
			a.Mode = syscall.S_IFLNK | 0o777
		default:
			a.Mode = syscall.S_IFREG | f.cfg.FileMode
		}
	}
	apply(&a)
	node.attrs = a
}

// storeAttrs writes node's changed attributes into its object (or marker)
// with a conditional self-copy. fresh asks the bucket for the current
// version first.
func (f *FS) storeAttrs(ctx context.Context, node *inode, apply func(*metadata.Attrs), fresh bool) error {
	f.mu.Lock()
	key, kind := node.key, node.kind
	stale := fresh || !node.metaKnown || !f.now().Before(node.expiry)
	f.mu.Unlock()

	var info objstore.ObjectInfo
	exists := true
	switch {
	case stale:
		var err error
		info, err = f.client.Head(ctx, key)
		switch {
		case kind == metadata.Dir && errors.Is(err, objstore.ErrNotFound):
			exists = false // no marker yet: the directory exists through its keys
		case err != nil:
			return err
		}
	case kind == metadata.Dir:
		// The marker as this mount last saw or wrote it (a failed
		// condition asks again: fresh).
		f.mu.Lock()
		info = objstore.ObjectInfo{Key: key, ETag: node.marker, Metadata: node.meta}
		exists = node.marker != ""
		f.mu.Unlock()
	default:
		f.mu.Lock()
		info = objstore.ObjectInfo{Key: key, Size: node.size, ETag: node.etag, Metadata: node.meta}
		f.mu.Unlock()
	}
	f.mu.Lock()
	if exists {
		node.meta = info.Metadata
		node.attrs = metadata.ParseAttrs(info.Metadata)
	}
	f.applyAttrsLocked(node, apply)
	meta := node.attrs.Metadata(info.Metadata)
	f.mu.Unlock()

	ci := upload.CommitInput{Key: key, Size: info.Size, Metadata: meta, PartSize: f.cfg.WritePartSize,
		MinPart: f.minPart, MaxInFlight: f.cfg.MaxThreads, Budget: f.budget, Log: f.log, Track: f.track}
	if exists {
		ci.BaseKey, ci.BaseETag, ci.BaseSize, ci.IfMatch = key, info.ETag, info.Size, info.ETag
		ci.Clean = []stage.Range{{Off: 0, End: info.Size}}
		ci.Data = baseSource{f.baseReader(key, info.ETag, info.Size)}
		defer ci.Data.(baseSource).r.Close()
	} else {
		ci.IfNoneMatch, ci.Data = true, baseSource{}
	}
	out, err := upload.Commit(ctx, f.client, ci)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	node.meta, node.metaKnown = meta, true
	if kind == metadata.Dir {
		node.marker = out.ETag
		node.expiry = f.now().Add(f.cfg.DirTTL)
	} else {
		f.setStatLocked(node, info.Size, out.ETag, node.mtime, nil)
	}
	return nil
}
