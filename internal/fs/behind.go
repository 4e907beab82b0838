package fs

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// Write-behind of staged files written sequentially. A file created here,
// or opened with O_TRUNC, and written from offset 0 in order (cp, dd, tar,
// a job writing its results) uploads its full parts while the writer goes
// on (upload.Behind, reading them back from the staged copy), as the
// default mode's sequential writer does, so close sends only the tail.
// The first write anywhere else, a truncation, a rename or an unlink
// abandons that upload (it is aborted) and the commit at close sends the
// file as any edit. Its metadata is fixed when its upload starts; when the
// attributes change before close, the commit ends with a CopyObject of the
// new version onto itself with the new metadata.

// noteWriteLocked follows a write of [off, end) to st: it feeds the upload
// behind while the file stays sequential, and abandons it otherwise.
// REQUIRES(st.mu)
func (f *FS) noteWriteLocked(ctx context.Context, in *inode, st *staged, off, end, before int64) {
	if !st.sequential {
		return
	}
	if off != before {
		f.abandonBehindLocked(st)
		return
	}
	if st.behind == nil {
		if end < f.cfg.WritePartSize {
			return // may well stay one PUT
		}
		f.mu.Lock()
		key, meta := in.key, f.objectMetaLocked(in, st.baseMeta)
		f.mu.Unlock()
		st.behind = upload.NewBehind(f.client, upload.BehindInput{Key: key, Metadata: meta, Data: st.file,
			PartSize: f.cfg.WritePartSize, MaxInFlight: min(f.cfg.MaxThreads, 8), Budget: f.budget, Log: f.log,
			Track: f.track})
		st.behindMeta = meta
	}
	if err := st.behind.Advance(ctx, end); err != nil {
		// The commit at close sends the file whole instead.
		f.log.Debug("upload behind the writer failed; the file is sent at close", "key", in.key, "error", err)
		f.abandonBehindLocked(st)
	}
}

// abandonBehindLocked stops uploading behind the writer: the file is no
// longer written in order. REQUIRES(st.mu)
func (f *FS) abandonBehindLocked(st *staged) {
	st.sequential = false
	if st.behind != nil {
		st.behind.Abort()
		st.behind = nil
	}
}

// completeBehindLocked finishes the upload behind the writer as the
// commit ci describes. ok is false when there is none to finish (the
// caller commits with upload.Commit). REQUIRES(st.mu)
func (f *FS) completeBehindLocked(ctx context.Context, st *staged, ci upload.CommitInput) (out objstore.PutOutput, ok bool, err error) {
	b := st.behind
	if b == nil || !st.sequential || !b.Started() {
		f.abandonBehindLocked(st)
		return objstore.PutOutput{}, false, nil
	}
	st.behind = nil
	st.sequential = false
	if err := b.Advance(ctx, ci.Size); err != nil {
		b.Abort()
		return objstore.PutOutput{}, false, nil
	}
	o, err := b.Complete(ctx, ci.Size, ci.IfMatch, ci.IfNoneMatch)
	if err != nil {
		return objstore.PutOutput{}, true, err
	}
	if !maps.Equal(st.behindMeta, ci.Metadata) {
		// The attributes changed while it was written: set them now, on
		// the version just completed and pinned to it.
		fix := ci
		fix.BaseKey, fix.BaseETag, fix.BaseSize, fix.IfMatch, fix.IfNoneMatch = ci.Key, o.ETag, ci.Size, o.ETag, false
		fix.Clean = wholeRange(ci.Size)
		o2, err := upload.Commit(ctx, f.client, fix)
		if err != nil {
			// The contents are committed (o); their attributes are not.
			return o, true, fmt.Errorf("%w: setting its attributes: %w", errAttrsNotSet, err)
		}
		o = o2
	}
	return objstore.PutOutput{ETag: o.ETag}, true, nil
}

// errAttrsNotSet reports a commit whose contents went in but whose
// attributes could not be set afterwards.
var errAttrsNotSet = errors.New("the contents were committed")

func wholeRange(size int64) []stage.Range { return []stage.Range{{Off: 0, End: size}} }
