package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// Rename (--allow-rename, --posix). S3 has no rename, and S3's RenameObject
// is not relied on (servers answer it without doing it): a file is copied
// on the server to its new key, then its old key is deleted; a directory is
// every key under its prefix, copied, then deleted. Each copy is
// conditional: pinned to the source's ETag, and onto the destination only
// If-Match the version this mount saw there (If-None-Match when it saw
// none), so nothing another writer put in between is overwritten. It is not
// atomic: other clients may see both names for a moment, and a crash between
// the copies and the deletes leaves both, never neither.

// Linux rename(2) flags.
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
	renameWhiteout  = 1 << 2
)

// Rename moves name in parent to newName in newParent.
func (f *FS) Rename(ctx context.Context, parent uint64, name string, newParent uint64, newName string) error {
	return f.RenameFlags(ctx, parent, name, newParent, newName, 0)
}

// RenameFlags is Rename with rename(2)'s flags: RENAME_NOREPLACE is
// honoured, RENAME_EXCHANGE and RENAME_WHITEOUT are refused (EINVAL).
func (f *FS) RenameFlags(ctx context.Context, parent uint64, name string, newParent uint64, newName string, flags uint32) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "rename %q: read-only mount", name)
	}
	if !f.cfg.AllowRename {
		return errorf(syscall.ENOSYS, "rename %q → %q: renaming needs --allow-rename or --posix (S3 has no rename; it is a copy and a delete)", name, newName)
	}
	if flags&(renameExchange|renameWhiteout) != 0 {
		return errorf(syscall.EINVAL, "rename %q → %q: RENAME_EXCHANGE and RENAME_WHITEOUT are not supported", name, newName)
	}
	if !metadata.ValidName(newName) {
		return errorf(syscall.EINVAL, "rename to %q: not a valid name", newName)
	}
	src, err := f.lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	dst, err := f.lookup(ctx, newParent, newName)
	switch {
	case err == nil:
	case Errno(err) == syscall.ENOENT:
		dst = nil
	default:
		return err
	}
	if dst == src {
		return nil
	}
	if dst != nil && flags&renameNoReplace != 0 {
		return errorf(syscall.EEXIST, "rename %q → %q: the destination exists (RENAME_NOREPLACE)", name, newName)
	}
	f.mu.Lock()
	dir, err := f.dirLocked(newParent)
	if err == nil {
		err = f.checkRenameLocked(src, dst, dir, newName)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	// Once the copies start, the rename runs to its end (or undoes them)
	// even if the caller is interrupted.
	ctx = context.WithoutCancel(ctx)
	if src.kind == metadata.Dir {
		return f.renameDir(ctx, src, dst, dir, newName)
	}
	return f.renameFile(ctx, src, dst, dir, newName)
}

// checkRenameLocked applies rename(2)'s rules on the kinds. REQUIRES(f.mu)
func (f *FS) checkRenameLocked(src, dst, dir *inode, newName string) error {
	switch {
	case dir.removed:
		return errorf(syscall.ENOENT, "rename to %q: the directory was removed", dir.key+newName)
	case dst != nil && dst.kind == metadata.Dir && src.kind != metadata.Dir:
		return errorf(syscall.EISDIR, "rename %q → %q: the destination is a directory", src.key, dst.key)
	case dst != nil && dst.kind != metadata.Dir && src.kind == metadata.Dir:
		return errorf(syscall.ENOTDIR, "rename %q → %q: the destination is not a directory", src.key, dst.key)
	case src.writer != nil:
		return errorf(syscall.EBUSY, "rename %q: the file is being written; close it first", src.key)
	case src.ino == RootIno:
		return errorf(syscall.EBUSY, "rename: the mount's root")
	}
	if src.kind == metadata.Dir {
		for p := dir; ; p = f.inodes[p.parent] {
			if p == src {
				return errorf(syscall.EINVAL, "rename %q into itself", src.key)
			}
			if p == nil || p.ino == RootIno {
				break
			}
		}
	}
	newKey := dir.key + newName
	if src.kind == metadata.Dir {
		newKey += "/"
	}
	return maxKeyErr(newKey)
}

// renameFile moves a file or symbolic link.
func (f *FS) renameFile(ctx context.Context, src, dst, dir *inode, newName string) error {
	f.mu.Lock()
	st := src.st
	newKey := dir.key + newName
	dstETag := ""
	if dst != nil && !dst.local {
		dstETag = dst.etag
	}
	f.mu.Unlock()
	if st != nil {
		return f.renameEdited(ctx, src, st, dst, dir, newName, newKey, dstETag)
	}

	f.mu.Lock()
	oldKey := src.key
	// What a lookup just saw will do (the copy is pinned to it anyway):
	// POSIX mode knows the metadata; otherwise a stat fetches it.
	info := objstore.ObjectInfo{Key: oldKey, Size: src.size, ETag: src.etag, Metadata: src.meta}
	var data []byte
	if src.content != nil {
		data = src.content.data
	}
	fresh := f.cfg.Posix && src.metaKnown && f.now().Before(src.expiry)
	f.mu.Unlock()
	if !fresh {
		var err error
		if info, data, err = metadata.Stat(ctx, f.client, oldKey, f.statMax()); err != nil {
			return wrapf(0, err, "rename %q", oldKey)
		}
	}
	out, err := f.copyObject(ctx, info, data, newKey, dstETag)
	if err != nil {
		return f.renameErr(err, oldKey, newKey)
	}
	if err := f.client.Delete(ctx, oldKey); err != nil {
		return wrapf(syscall.EIO, err, "rename %q → %q: copied, but the old key could not be deleted (both exist now)", oldKey, newKey)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveLocked(src, dst, dir, newName)
	if src.kind == metadata.Symlink && data != nil {
		src.target = string(data)
	}
	f.setStatLocked(src, info.Size, out.ETag, src.mtime, nil)
	src.meta = info.Metadata
	return nil
}

// renameEdited moves a file that is open for editing. A file created here
// and never committed only changes its name; otherwise the version the
// edit started from is moved on the server, and the edit goes on from there.
func (f *FS) renameEdited(ctx context.Context, src *inode, st *staged, dst, dir *inode, newName, newKey, dstETag string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	f.abandonBehindLocked(st) // its upload is to the old key
	if st.baseETag != "" {
		info := objstore.ObjectInfo{Key: st.baseKey, Size: st.baseSize, ETag: st.baseETag, Metadata: st.baseMeta}
		out, err := f.copyObject(ctx, info, nil, newKey, dstETag)
		if err != nil {
			return f.renameErr(err, st.baseKey, newKey)
		}
		if err := f.client.Delete(ctx, st.baseKey); err != nil {
			return wrapf(syscall.EIO, err, "rename %q → %q: copied, but the old key could not be deleted (both exist now)", st.baseKey, newKey)
		}
		old := st.src
		st.src = f.baseReader(newKey, out.ETag, st.baseSize)
		st.file.SetSource(stageSource(st.src))
		if old != nil {
			old.Close()
		}
		st.baseKey, st.baseETag, st.condETag = newKey, out.ETag, out.ETag
	} else {
		st.condETag = dstETag // the first commit replaces what is there now, or creates
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveLocked(src, dst, dir, newName)
	if st.baseETag != "" {
		src.etag = st.baseETag
	}
	return nil
}

// copyObject copies the object info describes (data is its content when a
// stat brought it whole) to dstKey, replacing exactly dstETag ("" for no
// object there). A small object is sent again with one PUT; a larger one
// is copied on the server part by part and completed with the condition
// (a plain CopyObject cannot be made conditional on its destination).
func (f *FS) copyObject(ctx context.Context, info objstore.ObjectInfo, data []byte, dstKey, dstETag string) (objstore.PutOutput, error) {
	ci := upload.CommitInput{Key: dstKey, Size: info.Size, Metadata: info.Metadata,
		PartSize: f.cfg.WritePartSize, MinPart: f.minPart, MaxInFlight: f.cfg.MaxThreads, Budget: f.budget, Log: f.log,
		Track: f.track}
	if dstETag != "" {
		ci.IfMatch = dstETag
	} else {
		ci.IfNoneMatch = true
	}
	if data != nil && int64(len(data)) == info.Size {
		ci.Data = bytesSource{bytes.NewReader(data)}
		return upload.Commit(ctx, f.client, ci)
	}
	r := f.baseReader(info.Key, info.ETag, info.Size)
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	ci.BaseKey, ci.BaseETag, ci.BaseSize, ci.Data = info.Key, info.ETag, info.Size, baseSource{r}
	ci.Clean = []stage.Range{{Off: 0, End: info.Size}}
	return upload.Commit(ctx, f.client, ci)
}

// bytesSource is a commit's Source over bytes in memory.
type bytesSource struct{ r *bytes.Reader }

func (b bytesSource) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	n, err := b.r.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// renameErr reports a failed copy of a rename: nothing was renamed.
func (f *FS) renameErr(err error, oldKey, newKey string) error {
	if errors.Is(err, upload.ErrConflict) {
		return wrapf(syscall.EIO, err, "rename %q → %q: the source or the destination changed meanwhile; nothing was renamed", oldKey, newKey)
	}
	return wrapf(syscall.EIO, err, "rename %q → %q: nothing was renamed", oldKey, newKey)
}

// moveLocked gives src its new place in the inode table: newName in dir,
// replacing dst, with the keys of everything under it changed. REQUIRES(f.mu)
func (f *FS) moveLocked(src, dst, dir *inode, newName string) {
	if dst != nil {
		f.detachLocked(dst)
	}
	if p := f.inodes[src.parent]; p != nil && p.children[src.name] == src.ino {
		delete(p.children, src.name)
	}
	if old := f.childLocked(dir, newName); old != nil {
		f.detachLocked(old)
	}
	oldKey := src.key
	src.parent, src.name = dir.ino, newName
	src.key = dir.key + newName
	if src.kind == metadata.Dir {
		src.key += "/"
		f.rekeyLocked(src, oldKey, src.key)
	}
	dir.children[newName] = src.ino
	src.removed = false
	src.expiry = f.now() // the bucket says what it is now at the next lookup
	dir.listedUntil = f.now()
}

// rekeyLocked changes the key prefix of everything known under in. REQUIRES(f.mu)
func (f *FS) rekeyLocked(in *inode, oldPrefix, newPrefix string) {
	for _, cino := range in.children {
		c := f.inodes[cino]
		if c == nil {
			continue
		}
		c.key = newPrefix + strings.TrimPrefix(c.key, oldPrefix)
		if c.kind == metadata.Dir {
			f.rekeyLocked(c, oldPrefix, newPrefix)
		}
	}
}

// renameDir moves a directory: every key under it, up to MaxRenameKeys
// (more is EXDEV, so that mv copies and deletes itself). The destination,
// if it exists, must be empty. A copy that fails undoes the copies made.
func (f *FS) renameDir(ctx context.Context, src, dst, dir *inode, newName string) error {
	f.mu.Lock()
	oldPrefix, newPrefix := src.key, dir.key+newName+"/"
	if err := f.pendingUnderLocked(src); err != nil {
		f.mu.Unlock()
		return err
	}
	dstMarker := ""
	if dst != nil {
		dstMarker = dst.marker
		for _, cino := range dst.children {
			if c := f.inodes[cino]; c != nil && c.pending() {
				f.mu.Unlock()
				return errorf(syscall.ENOTEMPTY, "rename onto %q: directory not empty", dst.key)
			}
		}
	}
	f.mu.Unlock()
	if dst != nil {
		if _, err := f.emptyInBucket(ctx, newPrefix, "rename onto"); err != nil {
			return err
		}
	}
	keys, err := f.listAll(ctx, oldPrefix, f.cfg.MaxRenameKeys)
	if err != nil {
		return err
	}
	if len(keys) > f.cfg.MaxRenameKeys {
		return errorf(syscall.EXDEV, "rename %q: more than --max-rename-keys (%d) keys under it; mv copies and deletes instead", oldPrefix, f.cfg.MaxRenameKeys)
	}
	copied, err := f.copyAll(ctx, keys, oldPrefix, newPrefix, dstMarker)
	if err != nil {
		for _, k := range copied {
			if derr := f.client.Delete(context.WithoutCancel(ctx), k); derr != nil {
				f.log.Warn("rename failed and a copy could not be removed", "key", k, "error", derr)
			}
		}
		return wrapf(syscall.EIO, err, "rename %q → %q: nothing was renamed", oldPrefix, newPrefix)
	}
	if err := f.forAll(ctx, keys, func(ctx context.Context, o objstore.ObjectInfo) error {
		return f.client.Delete(ctx, o.Key)
	}); err != nil {
		return wrapf(syscall.EIO, err, "rename %q → %q: copied, but some old keys could not be deleted (both exist now)", oldPrefix, newPrefix)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveLocked(src, dst, dir, newName)
	src.marker = ""
	return nil
}

// pendingUnderLocked refuses a directory rename while a file under it is
// open for writing or only local. REQUIRES(f.mu)
func (f *FS) pendingUnderLocked(in *inode) error {
	for _, cino := range in.children {
		c := f.inodes[cino]
		if c == nil {
			continue
		}
		if c.pending() {
			return errorf(syscall.EBUSY, "rename %q: %q is open for writing; close it first", in.key, c.key)
		}
		if c.kind == metadata.Dir {
			if err := f.pendingUnderLocked(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// listAll lists every key under prefix, stopping after max+1.
func (f *FS) listAll(ctx context.Context, prefix string, max int) ([]objstore.ObjectInfo, error) {
	var keys []objstore.ObjectInfo
	token := ""
	for {
		out, err := f.client.List(ctx, objstore.ListInput{Prefix: prefix, ContinuationToken: token})
		if err != nil {
			return nil, wrapf(0, err, "list %q", prefix)
		}
		keys = append(keys, out.Objects...)
		if out.NextContinuationToken == "" || len(keys) > max {
			return keys, nil
		}
		token = out.NextContinuationToken
	}
}

// copyAll copies every key under oldPrefix to newPrefix and returns the
// keys it created. Each copy is pinned to the listed ETag and made with
// If-None-Match (the destination was empty); the destination directory's
// own marker, if it had one, is replaced If-Match.
func (f *FS) copyAll(ctx context.Context, keys []objstore.ObjectInfo, oldPrefix, newPrefix, dstMarker string) ([]string, error) {
	var mu sync.Mutex
	var copied []string
	err := f.forAll(ctx, keys, func(ctx context.Context, o objstore.ObjectInfo) error {
		info, data, err := metadata.Stat(ctx, f.client, o.Key, f.statMax())
		if err != nil {
			return err
		}
		if info.ETag != o.ETag {
			return fmt.Errorf("%w: %q changed since it was listed", upload.ErrConflict, o.Key)
		}
		to := newPrefix + strings.TrimPrefix(o.Key, oldPrefix)
		cond := ""
		if to == newPrefix {
			cond = dstMarker
		}
		if _, err := f.copyObject(ctx, info, data, to, cond); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if cond == "" {
			copied = append(copied, to)
		}
		return nil
	})
	return copied, err
}

// forAll runs fn for every key, MaxThreads at a time, and returns the first error.
func (f *FS) forAll(ctx context.Context, keys []objstore.ObjectInfo, fn func(context.Context, objstore.ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(f.cfg.MaxThreads, 1))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, o := range keys {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, o); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}
