package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// Commits of staged edits. A commit writes the whole new version of the
// object with one condition: If-Match the ETag the edit started from (or
// last committed), or If-None-Match for a file created here, so a version
// another writer put in between is never overwritten. When the condition
// fails, the new version is stored next to the file under a conflict name
// (conflictName) and the close or fsync fails with EIO; the other writer's
// version stays. The edit keeps failing until it is closed: its bytes are
// in the conflict object.

// commitInput is the commit of st's current contents to key.
func (f *FS) commitInput(st *staged, key string, meta map[string]string) upload.CommitInput {
	in := upload.CommitInput{Key: key, Size: st.file.Size(), Data: st.file, Metadata: meta,
		PartSize: f.cfg.WritePartSize, MinPart: f.minPart, MaxInFlight: f.cfg.MaxThreads, Budget: f.budget, Log: f.log,
		Track: f.track}
	if st.baseETag != "" {
		in.BaseKey, in.BaseETag, in.BaseSize, in.Clean = st.baseKey, st.baseETag, st.baseSize, st.file.Clean()
	}
	if st.condETag != "" {
		in.IfMatch = st.condETag
	} else {
		in.IfNoneMatch = true
	}
	return in
}

// commitStagedLocked commits st's changes to in's object, if there are
// any, and makes the committed version the edit's new base. REQUIRES(st.mu)
func (f *FS) commitStagedLocked(ctx context.Context, in *inode, st *staged) error {
	if st.unlinked {
		return nil
	}
	f.mu.Lock()
	key := in.key
	f.mu.Unlock()
	if st.conflict != nil {
		return wrapf(syscall.EIO, st.conflict, "commit %q: an earlier commit of this open file conflicted", key)
	}
	if !st.created && !st.metaChanged && !st.file.Changed() {
		return nil
	}
	f.mu.Lock()
	meta := f.objectMetaLocked(in, st.baseMeta)
	f.mu.Unlock()
	ci := f.commitInput(st, key, meta)
	out, behind, err := f.completeBehindLocked(ctx, st, ci)
	if !behind {
		out, err = upload.Commit(ctx, f.client, ci)
	}
	if errors.Is(err, upload.ErrConflict) {
		return f.conflictLocked(ctx, st, ci, err)
	}
	var partial error
	if errors.Is(err, errAttrsNotSet) {
		partial = wrapf(syscall.EIO, err, "commit %q: the attributes set while it was written were not kept", key)
		st.metaChanged = true
	} else if err != nil {
		return wrapf(syscall.EIO, err, "commit %q: the object was not changed", key)
	}
	src := f.baseReader(key, out.ETag, ci.Size)
	old := st.src
	st.file.Rebase(stageSource(src)) // waits for reads using the old source
	if old != nil {
		old.Close()
	}
	st.src, st.baseKey, st.baseETag, st.condETag, st.baseMeta = src, key, out.ETag, out.ETag, meta
	st.baseSize = ci.Size
	st.created = false
	if partial == nil {
		st.metaChanged = false
	} else {
		st.baseMeta = st.behindMeta
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.setStatLocked(in, ci.Size, out.ETag, in.mtime, nil)
	in.meta, in.metaKnown = meta, true
	in.cachedETag = out.ETag // the kernel's pages went through these writes
	in.local = false
	for p := f.inodes[in.parent]; p != nil && p.ino != RootIno && p.local; p = f.inodes[p.parent] {
		p.local = false
		p.expiry = f.now().Add(f.cfg.DirTTL)
	}
	return partial
}

// maxConflictNames is how many conflict names are tried (-2, -3, ...)
// when the first exists.
const maxConflictNames = 10

// conflictLocked stores the version a failed commit wanted to write under
// a conflict name and reports EIO. The new version's clean ranges are
// copied from the base if it still exists; otherwise they must be local
// (always so for objects of at most wholeFetchMax bytes, and for new
// files); failing that, the local bytes are saved on local disk next to
// the staging directory and the log says where. REQUIRES(st.mu)
func (f *FS) conflictLocked(ctx context.Context, st *staged, ci upload.CommitInput, cause error) error {
	key, ours := ci.Key, st.condETag
	theirs := "none (deleted)"
	if info, err := f.client.Head(ctx, key); err == nil {
		theirs = info.ETag
	}
	st.conflict = cause
	if ours == "" {
		ours = "none (created here)"
	}
	for n := 1; n <= maxConflictNames; n++ {
		name := f.conflictName(key, n)
		cc := ci
		cc.Key, cc.IfMatch, cc.IfNoneMatch = name, "", true
		_, err := upload.Commit(ctx, f.client, cc)
		if errors.Is(err, upload.ErrConflict) {
			if _, herr := f.client.Head(ctx, name); herr == nil {
				continue // the name is taken: try the next
			}
			// The base is gone: send every byte from the local copy.
			cc.Clean, cc.BaseKey, cc.BaseETag = nil, "", ""
			_, err = upload.Commit(ctx, f.client, cc)
		}
		if err != nil {
			break
		}
		f.log.Error("commit conflict: the object changed since this file was opened; this mount's version was stored under the conflict name and the other writer's version kept",
			"key", key, "conflict_key", name, "etag_started_from", ours, "etag_now", theirs)
		return wrapf(syscall.EIO, cause, "commit %q: the object changed since it was opened (ETag %s, now %s); this mount's version is in %q",
			key, ours, theirs, name)
	}
	path, saved, err := f.saveLocally(st, key)
	if err != nil {
		f.log.Error("commit conflict: this mount's version could not be stored in the bucket nor on local disk; its changes are lost",
			"key", key, "etag_started_from", ours, "etag_now", theirs, "error", err)
		return wrapf(syscall.EIO, cause, "commit %q: conflict, and this mount's version could not be kept", key)
	}
	f.log.Error("commit conflict: the object changed since this file was opened and the version it started from is gone; the bytes this mount had are saved on local disk",
		"key", key, "etag_started_from", ours, "etag_now", theirs, "path", path, "ranges", saved)
	return wrapf(syscall.EIO, cause, "commit %q: conflict; this mount's bytes are saved in %s", key, path)
}

// saveLocally copies the local bytes of an edit into a file in
// "bucketfs-conflicts" beside the staging directory.
func (f *FS) saveLocally(st *staged, key string) (string, []stage.Range, error) {
	dir := filepath.Join(filepath.Dir(f.cfg.Stage.Root()), "bucketfs-conflicts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, filepath.Base(f.conflictName(filepath.ToSlash(key), 1)))
	saved, err := st.file.SaveTo(path)
	return path, saved, err
}

// isConflictErr reports whether err is a failed condition.
func isConflictErr(err error) bool {
	return errors.Is(err, upload.ErrConflict) || errors.Is(err, objstore.ErrPreconditionFailed)
}
