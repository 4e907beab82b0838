// Package fuse adapts the file-system core (internal/fs) to go-fuse. It only
// converts: FUSE requests to core calls, core results to FUSE replies, and
// core errors to errno through fs.Errno — no file-system decision is made
// here. It is the only package that imports go-fuse.
package fuse

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"

	bfs "github.com/bucketfs/bucketfs/internal/fs"
)

// node is one inode as go-fuse sees it; its StableAttr().Ino is the core's number.
type node struct {
	gofs.Inode
	m *mounted
}

// mounted is what every node of one mount shares.
type mounted struct {
	core *bfs.FS
	opts Options
	log  *slog.Logger
	uid  uint32 // the mounting user, for --allow-root
}

var (
	_ = (gofs.NodeLookuper)((*node)(nil))
	_ = (gofs.NodeGetattrer)((*node)(nil))
	_ = (gofs.NodeSetattrer)((*node)(nil))
	_ = (gofs.NodeOpener)((*node)(nil))
	_ = (gofs.NodeCreater)((*node)(nil))
	_ = (gofs.NodeOpendirHandler)((*node)(nil))
	_ = (gofs.NodeMkdirer)((*node)(nil))
	_ = (gofs.NodeRmdirer)((*node)(nil))
	_ = (gofs.NodeUnlinker)((*node)(nil))
	_ = (gofs.NodeRenamer)((*node)(nil))
	_ = (gofs.NodeLinker)((*node)(nil))
	_ = (gofs.NodeSymlinker)((*node)(nil))
	_ = (gofs.NodeReadlinker)((*node)(nil))
	_ = (gofs.NodeMknoder)((*node)(nil))
	_ = (gofs.NodeStatfser)((*node)(nil))
	_ = (gofs.NodeOnForgetter)((*node)(nil))
)

func (n *node) ino() uint64 { return n.StableAttr().Ino }

// errno logs err once, at the level the core chose, and converts it.
func (m *mounted) errno(op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	e := bfs.Errno(err)
	m.log.Log(context.Background(), bfs.LogLevel(err), op+" failed", "errno", e.Error(), "error", err)
	return e
}

// denied enforces --allow-root: only the mounting user and root get in.
func (m *mounted) denied(ctx context.Context) bool {
	if !m.opts.AllowRoot {
		return false
	}
	c, ok := gofuse.FromContext(ctx)
	return ok && c.Uid != 0 && c.Uid != m.uid
}

func pid(ctx context.Context) uint32 {
	if c, ok := gofuse.FromContext(ctx); ok {
		return c.Pid
	}
	return 0
}

// caller is who sent the request: POSIX mode makes them the owner of what
// they create.
func caller(ctx context.Context) bfs.Caller {
	if c, ok := gofuse.FromContext(ctx); ok {
		return bfs.Caller{Pid: c.Pid, UID: c.Uid, GID: c.Gid}
	}
	return bfs.Caller{}
}

func fillAttr(a bfs.Attr, out *gofuse.Attr) {
	out.Ino = a.Ino
	out.Mode = a.Mode
	out.Size = uint64(a.Size)
	out.Blocks = (uint64(a.Size) + 511) / 512
	out.Blksize = 1 << 20
	out.Nlink = a.Nlink
	out.Owner = gofuse.Owner{Uid: a.UID, Gid: a.GID}
	t := a.Mtime
	out.SetTimes(&t, &t, &t)
}

func (n *node) entry(ctx context.Context, a bfs.Attr, out *gofuse.EntryOut) *gofs.Inode {
	fillAttr(a, &out.Attr)
	out.SetEntryTimeout(a.TTL)
	out.SetAttrTimeout(a.TTL)
	return n.NewInode(ctx, &node{m: n.m}, gofs.StableAttr{Mode: a.Mode & syscall.S_IFMT, Ino: a.Ino})
}

func (n *node) Lookup(ctx context.Context, name string, out *gofuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, syscall.EACCES
	}
	a, err := n.m.core.Lookup(ctx, n.ino(), name)
	if err != nil {
		return nil, n.m.errno("lookup", err)
	}
	return n.entry(ctx, a, out), 0
}

func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *gofuse.AttrOut) syscall.Errno {
	if n.m.denied(ctx) {
		return syscall.EACCES
	}
	a, err := n.m.core.Getattr(ctx, n.ino())
	if err != nil {
		return n.m.errno("getattr", err)
	}
	fillAttr(a, &out.Attr)
	out.SetTimeout(a.TTL)
	return 0
}

func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *gofuse.SetAttrIn, out *gofuse.AttrOut) syscall.Errno {
	var req bfs.SetattrIn
	if v, ok := in.GetSize(); ok {
		s := int64(v)
		req.Size = &s
	}
	if v, ok := in.GetMode(); ok {
		req.Mode = &v
	}
	if v, ok := in.GetUID(); ok {
		req.UID = &v
	}
	if v, ok := in.GetGID(); ok {
		req.GID = &v
	}
	if v, ok := in.GetMTime(); ok {
		req.Mtime = &v
	}
	if v, ok := in.GetATime(); ok {
		req.Atime = &v
	}
	a, err := n.m.core.Setattr(ctx, n.ino(), req)
	if err != nil {
		return n.m.errno("setattr", err)
	}
	fillAttr(a, &out.Attr)
	out.SetTimeout(a.TTL)
	return 0
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, 0, syscall.EACCES
	}
	h, err := n.m.core.OpenAs(ctx, n.ino(), flags, caller(ctx))
	if err != nil {
		return nil, 0, n.m.errno("open", err)
	}
	return &handle{h: h, m: n.m}, openFlags(h), 0
}

// openFlags are the FOPEN_ flags of a new handle.
func openFlags(h *bfs.Handle) uint32 {
	var fuseFlags uint32
	if h.KeepCache {
		// Same object version as the pages the kernel holds: readers of
		// one file share them, and re-reads cost no request.
		fuseFlags |= gofuse.FOPEN_KEEP_CACHE
	}
	switch {
	case h.IsWriter():
		// A sequential writer's data goes straight from the writer's
		// buffer to ours, not through the page cache.
		fuseFlags |= gofuse.FOPEN_DIRECT_IO
	case h.Staged() && h.Writable():
		// An edit goes through the page cache (writable shared mmap
		// works); its close commits, so it needs its FLUSH.
	default:
		// A reader's close() has nothing to flush (fs.Flush is a no-op
		// for it): spare it that round trip. Kernels before 5.18 ignore it.
		fuseFlags |= gofuse.FOPEN_NOFLUSH
	}
	return fuseFlags
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *gofuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, nil, 0, syscall.EACCES
	}
	a, h, err := n.m.core.CreateAs(ctx, n.ino(), name, flags, mode, caller(ctx))
	if err != nil {
		return nil, nil, 0, n.m.errno("create", err)
	}
	return n.entry(ctx, a, out), &handle{h: h, m: n.m}, openFlags(h), 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *gofuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, syscall.EACCES
	}
	a, err := n.m.core.MkdirAs(ctx, n.ino(), name, mode, caller(ctx))
	if err != nil {
		return nil, n.m.errno("mkdir", err)
	}
	return n.entry(ctx, a, out), 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if n.m.denied(ctx) {
		return syscall.EACCES
	}
	return n.m.errno("rmdir", n.m.core.Rmdir(ctx, n.ino(), name))
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.m.denied(ctx) {
		return syscall.EACCES
	}
	return n.m.errno("unlink", n.m.core.Unlink(ctx, n.ino(), name))
}

func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.m.denied(ctx) {
		return syscall.EACCES
	}
	np := newParent.EmbeddedInode().StableAttr().Ino
	return n.m.errno("rename", n.m.core.RenameFlags(ctx, n.ino(), name, np, newName, flags))
}

func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *gofuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, n.m.errno("link", n.m.core.Link(ctx, name))
}

func (n *node) Symlink(ctx context.Context, target, name string, out *gofuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, syscall.EACCES
	}
	a, err := n.m.core.Symlink(ctx, n.ino(), name, target, caller(ctx))
	if err != nil {
		return nil, n.m.errno("symlink", err)
	}
	return n.entry(ctx, a, out), 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if n.m.denied(ctx) {
		return nil, syscall.EACCES
	}
	target, err := n.m.core.Readlink(ctx, n.ino())
	if err != nil {
		return nil, n.m.errno("readlink", err)
	}
	return []byte(target), 0
}

// Mknod of a regular file is how some tools create files; others (devices,
// fifos, sockets) have no S3 counterpart.
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *gofuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, syscall.EPERM
	}
	a, h, err := n.m.core.CreateAs(ctx, n.ino(), name, syscall.O_WRONLY|syscall.O_EXCL, mode, caller(ctx))
	if err != nil {
		return nil, n.m.errno("mknod", err)
	}
	// mknod creates an empty file: upload it now.
	if err := n.m.core.Release(ctx, h); err != nil {
		return nil, n.m.errno("mknod", err)
	}
	return n.entry(ctx, a, out), 0
}

func (n *node) Statfs(ctx context.Context, out *gofuse.StatfsOut) syscall.Errno {
	s := n.m.core.StatFS()
	out.Blocks, out.Bfree, out.Bavail = s.Blocks, s.Bfree, s.Bavail
	out.Files, out.Ffree = s.Files, s.Ffree
	out.Bsize, out.NameLen, out.Frsize = s.Bsize, s.NameLen, s.Bsize
	return 0
}

func (n *node) OnForget() { n.m.core.Forget(n.ino()) }

func ttlPtr(d time.Duration) *time.Duration { return &d }
