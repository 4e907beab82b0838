package fuse

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"

	bfs "github.com/bucketfs/bucketfs/internal/fs"
)

// handle is an open file.
type handle struct {
	h *bfs.Handle
	m *mounted
}

var (
	_ = (gofs.FileReader)((*handle)(nil))
	_ = (gofs.FileWriter)((*handle)(nil))
	_ = (gofs.FileFlusher)((*handle)(nil))
	_ = (gofs.FileFsyncer)((*handle)(nil))
	_ = (gofs.FileReleaser)((*handle)(nil))
	_ = (gofs.FileGetlker)((*handle)(nil))
	_ = (gofs.FileSetlker)((*handle)(nil))
	_ = (gofs.FileSetlkwer)((*handle)(nil))
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (gofuse.ReadResult, syscall.Errno) {
	data, release, err := h.m.core.ReadView(ctx, h.h, dest, off)
	if err != nil {
		return nil, h.m.errno("read", err)
	}
	return &viewResult{data: data, release: release}, 0
}

// viewResult replies to a read straight from the core's buffer, which stays
// pinned until go-fuse has written the reply (Done).
type viewResult struct {
	data    []byte
	release func()
}

func (r *viewResult) Bytes(buf []byte) ([]byte, gofuse.Status) { return r.data, gofuse.OK }
func (r *viewResult) Size() int                                { return len(r.data) }
func (r *viewResult) Done()                                    { r.release() }

// Slices makes go-fuse write the reply with one writev from our buffer
// (instead of first trying, and failing, to splice it through a pipe).
func (r *viewResult) Slices() ([][]byte, gofuse.Status) { return [][]byte{r.data}, gofuse.OK }

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := h.m.core.Write(ctx, h.h, data, off)
	if err != nil {
		return 0, h.m.errno("write", err)
	}
	return uint32(n), 0
}

func (h *handle) Flush(ctx context.Context) syscall.Errno {
	return h.m.errno("flush", h.m.core.Flush(ctx, h.h, pid(ctx)))
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.m.errno("fsync", h.m.core.Fsync(ctx, h.h))
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return h.m.errno("release", h.m.core.Release(ctx, h.h))
}

// Locks are refused: nothing could make them hold across the other clients of a bucket.
func (h *handle) Getlk(ctx context.Context, owner uint64, lk *gofuse.FileLock, flags uint32, out *gofuse.FileLock) syscall.Errno {
	return syscall.ENOTSUP
}

func (h *handle) Setlk(ctx context.Context, owner uint64, lk *gofuse.FileLock, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

func (h *handle) Setlkw(ctx context.Context, owner uint64, lk *gofuse.FileLock, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// dirHandle serves one opendir by streaming the core's listing.
type dirHandle struct {
	n      *node
	stream *bfs.DirStream
	next   uint64 // offset of the next entry: entries handed out so far
}

var (
	_ = (gofs.FileReaddirenter)((*dirHandle)(nil))
	_ = (gofs.FileSeekdirer)((*dirHandle)(nil))
	_ = (gofs.FileReleasedirer)((*dirHandle)(nil))
)

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, 0, syscall.EACCES
	}
	d := &dirHandle{n: n}
	if errno := d.open(ctx); errno != 0 {
		return nil, 0, errno
	}
	return d, 0, 0
}

func (d *dirHandle) open(ctx context.Context) syscall.Errno {
	s, err := d.n.m.core.OpenDir(ctx, d.n.ino())
	if err != nil {
		return d.n.m.errno("opendir", err)
	}
	if d.stream != nil {
		d.stream.Close() // a rewind: the old listing is given up
	}
	d.stream, d.next = s, 0
	return 0
}

// Releasedir is the last close of the directory: a listing not read to
// its end stops paging.
func (d *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {
	if d.stream != nil {
		d.stream.Close()
	}
}

func (d *dirHandle) Readdirent(ctx context.Context) (*gofuse.DirEntry, syscall.Errno) {
	e, ok, err := d.stream.Next(ctx)
	if err != nil {
		return nil, d.n.m.errno("readdir", err)
	}
	if !ok {
		return nil, 0
	}
	d.next++
	return &gofuse.DirEntry{Name: e.Name, Ino: e.Ino, Mode: e.Mode, Off: d.next}, 0
}

// Seekdir supports rewinddir (offset 0: list again) and seeking to an offset
// handed out before, by listing again and skipping to it.
func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off == d.next {
		return 0
	}
	if errno := d.open(ctx); errno != 0 {
		return errno
	}
	for d.next < off {
		e, errno := d.Readdirent(ctx)
		if errno != 0 {
			return errno
		}
		if e == nil {
			return syscall.EINVAL
		}
	}
	return 0
}
