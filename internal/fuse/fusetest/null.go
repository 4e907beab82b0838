// Package fusetest holds a FUSE file system for measurements, not for use:
// Null, the least a FUSE writer can do with what it is sent.
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
)

// Null is a mounted file system whose files swallow what is written to
// them. Each write is taken from /dev/fuse as bucketfs's are (writes of up
// to 1 MiB, direct I/O), copied into an 8 MiB part buffer and CRC32C'd,
// which is what any writer must do before it can upload: the bench measures
// it to know what FUSE alone costs on the machine.
type Null struct {
	srv     *gofuse.Server
	written atomic.Int64
}

// MountNull mounts a Null at dir.
func MountNull(dir string) (*Null, error) {
	n := &Null{}
	srv, err := gofs.Mount(dir, &nullRoot{n: n}, &gofs.Options{MountOptions: gofuse.MountOptions{
		FsName: "fusetest-null", Name: "fusetest", MaxWrite: 1 << 20,
	}})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	n.srv = srv
	return n, nil
}

// Written is the number of bytes written to the file system so far.
func (n *Null) Written() int64 { return n.written.Load() }

// Unmount unmounts it.
func (n *Null) Unmount() error { return n.srv.Unmount() }

type nullRoot struct {
	gofs.Inode
	n *Null
}

var _ = (gofs.NodeCreater)((*nullRoot)(nil))

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
