// Package fusetest holds a FUSE file system for measurements, not for use:
// Null, the least a FUSE file system can do with what is written to it, and
// with a file read from it.
package fusetest

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"

	bfuse "github.com/bucketfs/bucketfs/internal/fuse"
)

// Null is a mounted file system whose new files swallow what is written to
// them, and whose file ReadName holds readSize bytes served from memory.
//
// Each write is taken from /dev/fuse as bucketfs's are (writes of up to
// 1 MiB, direct I/O), copied into an 8 MiB part buffer and CRC32C'd: what
// any writer must do before it can upload. Reads go through the page cache
// with bucketfs's read-ahead and request size, and are answered with views
// of one buffer: what any reader must do once it has the bytes. The bench
// measures both to know what FUSE alone costs on the machine.
type Null struct {
	srv     *gofuse.Server
	written atomic.Int64
}

// ReadName is the name of the file that can be read.
const ReadName = "read"

// MountNull mounts a Null at dir whose file ReadName has readSize bytes.
func MountNull(dir string, readSize int64) (*Null, error) {
	n := &Null{}
	root := &nullRoot{n: n, readSize: readSize}
	srv, err := gofs.Mount(dir, root, &gofs.Options{MountOptions: gofuse.MountOptions{
		FsName: "fusetest-null", Name: "fusetest", MaxWrite: 1 << 20, MaxReadAhead: 1 << 20,
	}})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := bfuse.RaiseReadAhead(dir); err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("read-ahead of %s: %w", dir, err)
	}
	n.srv = srv
	return n, nil
}

// ReadByte is the byte at offset off of the file ReadName.
func ReadByte(off int64) byte { return byte(off % 251) }

// Written is the number of bytes written to the file system so far.
func (n *Null) Written() int64 { return n.written.Load() }

// Unmount unmounts it.
func (n *Null) Unmount() error { return n.srv.Unmount() }

type nullRoot struct {
	gofs.Inode
	n        *Null
	readSize int64
}

var (
	_ = (gofs.NodeCreater)((*nullRoot)(nil))
	_ = (gofs.NodeOnAdder)((*nullRoot)(nil))
)

func (r *nullRoot) OnAdd(ctx context.Context) {
	f := &readFile{size: r.readSize}
	r.AddChild(ReadName, r.NewPersistentInode(ctx, f, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
}

// pattern holds ReadByte's bytes: as 251 does not divide 8 MiB, a read at
// off is served from pattern[off%251:].
var pattern = func() []byte {
	b := make([]byte, 8<<20+251)
	for i := range b {
		b[i] = ReadByte(int64(i))
	}
	return b
}()

type readFile struct {
	gofs.Inode
	size int64
}

var (
	_ = (gofs.NodeGetattrer)((*readFile)(nil))
	_ = (gofs.NodeOpener)((*readFile)(nil))
	_ = (gofs.NodeReader)((*readFile)(nil))
)

func (f *readFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *gofuse.AttrOut) syscall.Errno {
	out.Mode, out.Size = syscall.S_IFREG|0o444, uint64(f.size)
	out.Uid, out.Gid = uint32(os.Getuid()), uint32(os.Getgid())
	return 0
}

func (f *readFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

func (f *readFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (gofuse.ReadResult, syscall.Errno) {
	n := max(0, min(int64(len(dest)), f.size-off, 8<<20))
	start := off % 251
	return gofuse.ReadResultData(pattern[start : start+n]), 0
}

func (r *nullRoot) Create(ctx context.Context, name string, flags, mode uint32, out *gofuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	child := r.NewInode(ctx, &nullFile{}, gofs.StableAttr{Mode: syscall.S_IFREG})
	out.Mode = syscall.S_IFREG | 0o644
	out.Uid, out.Gid = uint32(os.Getuid()), uint32(os.Getgid())
	return child, &nullHandle{n: r.n, part: make([]byte, 8<<20)}, gofuse.FOPEN_DIRECT_IO, 0
}

type nullFile struct{ gofs.Inode }

var _ = (gofs.NodeSetattrer)((*nullFile)(nil))

// Setattr accepts the truncate of O_TRUNC.
func (f *nullFile) Setattr(ctx context.Context, fh gofs.FileHandle, in *gofuse.SetAttrIn, out *gofuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o644
	return 0
}

type nullHandle struct {
	n    *Null
	part []byte
	used int
	crc  uint32
}

var (
	_ = (gofs.FileWriter)((*nullHandle)(nil))
	_ = (gofs.FileFlusher)((*nullHandle)(nil))
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (h *nullHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	for p := data; len(p) > 0; {
		k := copy(h.part[h.used:], p)
		h.crc = crc32.Update(h.crc, castagnoli, h.part[h.used:h.used+k])
		h.used += k
		p = p[k:]
		if h.used == len(h.part) {
			h.used, h.crc = 0, 0 // a part would go out here
		}
	}
	h.n.written.Add(int64(len(data)))
	return uint32(len(data)), 0
}

func (h *nullHandle) Flush(ctx context.Context) syscall.Errno { return 0 }
