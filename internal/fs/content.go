package fs

import (
	"container/list"
	"time"
)

// Small files are fetched whole by their lookup (metadata.Stat with
// SmallFileMax): the content waits on the inode until a read open takes it
// into its prefetch.Reader, so `cat` of a small file costs one round trip.
// Waiting contents draw from the memory budget and together hold at most a
// 16th of it; beyond that the oldest are dropped (a later
// read simply GETs them).

// heldContent is the whole content of an inode's object. It is always of
// the inode's current ETag: setStatLocked, the one place a stat changes,
// drops it when the ETag does.
type heldContent struct {
	in   *inode
	data []byte
	elem *list.Element
}

// heldContents is the FIFO of contents waiting for an open. GUARDED_BY(FS.mu)
type heldContents struct {
	order list.List // of *heldContent, oldest first
	bytes int64
	limit int64
}

// setStatLocked records a file's stat (from S3, or from the upload that just
// completed) and, when the stat came with the whole object, its content. A
// new ETag drops content of the old one. REQUIRES(f.mu)
func (f *FS) setStatLocked(in *inode, size int64, etag string, mtime time.Time, data []byte) {
	if data != nil || etag != in.etag {
		f.dropContentLocked(in)
	}
	in.size, in.etag, in.mtime = size, etag, mtime
	in.expiry = f.now().Add(f.cfg.FileTTL)
	if len(data) == 0 || int64(len(data)) != size || etag == "" {
		return
	}
	n := int64(len(data))
	if n > f.held.limit || !f.budget.TryReserve(n) {
		return
	}
	hc := &heldContent{in: in, data: data}
	hc.elem = f.held.order.PushBack(hc)
	in.content = hc
	f.held.bytes += n
	for f.held.bytes > f.held.limit {
		f.dropContentLocked(f.held.order.Front().Value.(*heldContent).in)
	}
}

// dropContentLocked forgets in's content and returns its memory. REQUIRES(f.mu)
func (f *FS) dropContentLocked(in *inode) {
	if data := f.takeContentLocked(in); data != nil {
		f.budget.Release(int64(len(data)))
	}
}

// takeContentLocked removes in's content from the waiting list and returns
// it (nil when none is held); the caller now owns its budget reservation.
// REQUIRES(f.mu)
func (f *FS) takeContentLocked(in *inode) []byte {
	hc := in.content
	if hc == nil {
		return nil
	}
	in.content = nil
	f.held.order.Remove(hc.elem)
	f.held.bytes -= int64(len(hc.data))
	return hc.data
}

// statMax is the dataMax of metadata.Lookup and metadata.Stat.
func (f *FS) statMax() int64 { return max(f.cfg.SmallFileMax, 0) }
