// Package fs is the file-system core of bucketfs: every file operation,
// expressed on inode numbers and handles, with no knowledge of FUSE (the
// adapter in internal/fuse converts) and no knowledge of the AWS SDK (it talks
// to an objstore.Client). Its behaviour is the contract in docs/SEMANTICS.md.
//
// # Inodes
//
// The inode table maps numbers to (parent, name, kind, key). Remote inodes
// mirror S3 and carry a stat (size, ETag, mtime) trusted until its expiry
// (the metadata TTL); after that it is looked up again. Local inodes exist
// only in this process: directories made by mkdir, and files being written.
// When a file's upload completes, it and its local ancestor directories
// become remote. A remote directory shadows a local entry of the same name,
// which shadows a remote file.
//
// # Locking
//
// LOCK ORDERING: handle.mu before FS.mu. FS.mu guards the inode table and
// every mutable inode field; it is never held across an S3 request.
// handle.mu serializes the operations of one open file (its writer or reader).
package fs

import (
	"container/list"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/prefetch"
)

// RootIno is the inode number of the mount's root directory.
const RootIno = 1

// Attr is what stat shows for an inode.
type Attr struct {
	Ino   uint64
	Mode  uint32 // type bits | permission bits
	Size  int64
	Mtime time.Time
	UID   uint32
	GID   uint32
	Nlink uint32
	// TTL is how long the kernel may cache this entry and attribute.
	TTL time.Duration
}

// IsDir reports whether the attribute describes a directory.
func (a Attr) IsDir() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }

type inode struct {
	ino    uint64
	parent uint64
	name   string
	kind   metadata.Kind
	key    string // files: the object key; directories: the key prefix ending in "/" ("" for a bucket root)

	// GUARDED_BY(FS.mu)
	size     int64
	etag     string
	mtime    time.Time
	expiry   time.Time         // remote stat trusted until then
	local    bool              // not (yet) in the bucket: mkdir'd directory or file being written
	children map[string]uint64 // directories: the names known so far
	// listedUntil: directories: until then, a complete listing of this
	// directory is trusted as to which names are directories, so a file it
	// showed is looked up again with a stat alone (see FS.lookup).
	listedUntil time.Time
	order       *dirOrder // directories: the last complete listing, for fetching ahead (ahead.go)
	// fetching is closed when the fetch ahead of this file in flight ends
	// (nil when none is): a lookup or open waits for it instead of asking again.
	fetching chan struct{}
	writer   *Handle // files: the open write handle, if any
	readers  int     // files: open read handles
	// cachedETag is the version whose pages the kernel may hold in its page
	// cache from earlier opens; a read open of the same version keeps them.
	cachedETag string
	// shared is the read-ahead of the current version, shared by its open
	// read handles (their reads come through the kernel's shared page cache,
	// so together they form the sequence the prefetcher follows).
	shared  *sharedReader
	removed bool // unlinked / vanished: no longer in its parent
	// content is the whole object, fetched with its stat, until a read
	// open takes it (see content.go).
	content *heldContent
	fg      forgetState // see forget.go

	// POSIX mode (posix.go).
	st        *staged           // files: the edit in progress, shared by its handles
	attrs     metadata.Attrs    // mode, owner, mtime from the object's metadata, or set here
	meta      map[string]string // the object's (or marker's) whole user metadata
	metaKnown bool              // attrs came from a stat: a listing does not carry them
	target    string            // symbolic links: the target
	marker    string            // directories: the ETag of their "d/" marker ("" when none)
	// absent: directories: names found missing, until when (negative.go).
	absent map[string]time.Time
}

// sharedReader is a prefetch.Reader with the count of handles using it. GUARDED_BY(FS.mu)
type sharedReader struct {
	r    *prefetch.Reader
	etag string
	refs int
}

// FS is the file-system core. It is safe for concurrent use.
type FS struct {
	client  objstore.Client
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	tgid    func(pid uint32) uint32 // thread id → process id, for close() of dup'd descriptors
	killed  func(pid uint32) bool   // the thread is exiting because a signal killed it
	started time.Time
	budget  *memory.Budget // shared by every reader's read-ahead and writer's parts

	mu      sync.Mutex
	inodes  map[uint64]*inode  // GUARDED_BY(mu)
	nextIno uint64             // GUARDED_BY(mu)
	writers map[*Handle]bool   // GUARDED_BY(mu) open write handles, aborted by Shutdown
	held    heldContents       // GUARDED_BY(mu) contents of small files not yet opened
	edits   map[*staged]*inode // GUARDED_BY(mu) staged edits, dropped by Shutdown
	unref   list.List          // GUARDED_BY(mu) inodes never handed to the kernel, oldest first (forget.go)
	orders  orders             // GUARDED_BY(mu) directories' listing orders (order.go)

	minPart int64 // S3's smallest part but the last (a field so tests can lower it)
}

// New returns the core over client. It does no I/O.
func New(client objstore.Client, cfg Config) *FS {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WritePartSize <= 0 {
		cfg.WritePartSize = 8 << 20
	}
	if cfg.MaxThreads <= 0 {
		cfg.MaxThreads = 16
	}
	if cfg.MemoryTarget <= 0 {
		cfg.MemoryTarget = memory.DefaultTarget()
	}
	if cfg.SmallFileMax == 0 {
		cfg.SmallFileMax = DefaultSmallFileMax
	}
	if cfg.MaxRenameKeys <= 0 {
		cfg.MaxRenameKeys = DefaultMaxRenameKeys
	}
	f := &FS{
		client:  client,
		cfg:     cfg,
		log:     cfg.Logger,
		now:     time.Now,
		tgid:    procTgid,
		killed:  procKilled,
		inodes:  map[uint64]*inode{},
		nextIno: RootIno + 1,
		writers: map[*Handle]bool{},
		edits:   map[*staged]*inode{},
		minPart: objstore.MinPartSize,
		started: time.Now(),
		budget:  memory.NewBudget(memory.BufferBudget(cfg.MemoryTarget)),
	}
	f.held.limit = f.budget.Limit() / 16
	f.inodes[RootIno] = &inode{ino: RootIno, parent: RootIno, kind: metadata.Dir, key: cfg.Prefix, children: map[string]uint64{}}
	return f
}

// MemoryInUse reports the bytes of the memory budget in use now and at most so far.
func (f *FS) MemoryInUse() (now, peak int64) { return f.budget.Used(), f.budget.Peak() }

// Config returns the configuration the core runs with.
func (f *FS) Config() Config { return f.cfg }

// attrLocked builds the stat of in. REQUIRES(f.mu)
func (f *FS) attrLocked(in *inode) Attr {
	// Whole seconds: HEAD reports Last-Modified in seconds, LIST in
	// milliseconds. Without this an object's mtime would flip between the
	// two, and the kernel (auto_inval_data) would drop its cached pages.
	a := Attr{Ino: in.ino, UID: f.cfg.UID, GID: f.cfg.GID, Mtime: in.mtime.Truncate(time.Second), Nlink: 1}
	if in.kind == metadata.Dir {
		a.Mode = syscall.S_IFDIR | f.cfg.DirMode
		a.Nlink = 2
		a.TTL = f.cfg.DirTTL
	} else {
		a.Mode = syscall.S_IFREG | f.cfg.FileMode
		a.Size = in.size
		a.TTL = f.cfg.FileTTL
	}
	if in.writer != nil || in.st != nil || (in.local && in.kind != metadata.Dir) {
		a.TTL = 0 // a file being written changes size with every write
	}
	if a.Mtime.IsZero() {
		a.Mtime = f.started // directories have no time in S3: show the mount's
	}
	if f.cfg.Posix {
		f.posixAttrLocked(in, &a)
	}
	return a
}

// childLocked returns the known child name of dir, if any. REQUIRES(f.mu)
func (f *FS) childLocked(dir *inode, name string) *inode {
	if ino, ok := dir.children[name]; ok {
		return f.inodes[ino]
	}
	return nil
}

// newChildLocked adds a child inode to dir, replacing any of the same name. REQUIRES(f.mu)
func (f *FS) newChildLocked(dir *inode, name string, kind metadata.Kind) *inode {
	in := &inode{ino: f.nextIno, parent: dir.ino, name: name, kind: kind}
	f.nextIno++
	if kind == metadata.Dir {
		in.key = dir.key + name + "/"
		in.children = map[string]uint64{}
	} else {
		in.key = dir.key + name
	}
	if old := f.childLocked(dir, name); old != nil {
		f.detachLocked(old)
	}
	f.inodes[in.ino] = in
	dir.children[name] = in.ino
	delete(dir.absent, name)
	f.noteNewLocked(in)
	return in
}

// detachLocked removes in from its parent. Its number stays valid for open
// handles and the kernel's references; it is simply no longer reachable by name. REQUIRES(f.mu)
func (f *FS) detachLocked(in *inode) {
	if p := f.inodes[in.parent]; p != nil && p.children[in.name] == in.ino {
		delete(p.children, in.name)
	}
	in.removed = true
	f.dropContentLocked(in)
}

// upsertLocked records what S3 says about name in dir and returns its inode.
// It keeps the inode number when the kind is unchanged. listed says e comes
// from a listing, which carries no metadata: in POSIX mode such an entry
// keeps the attributes its inode already had of the same version, and
// otherwise is marked for a stat at its next lookup. REQUIRES(f.mu)
func (f *FS) upsertLocked(dir *inode, e metadata.Entry, listed bool) *inode {
	in := f.childLocked(dir, e.Name)
	posix := f.cfg.Posix
	if posix && !listed && e.Kind == metadata.File && metadata.ParseAttrs(e.Meta).IsSymlink() {
		e.Kind = metadata.Symlink
	}
	if posix && listed && e.Kind == metadata.File && in != nil && in.kind == metadata.Symlink && in.etag == e.ETag {
		e.Kind = metadata.Symlink // the listing cannot tell a symlink from a file
	}
	if posix && listed && in != nil && in.fetching != nil && in.kind == e.Kind {
		return in // a stat of it is on its way, and knows more
	}
	known := posix && listed && in != nil && in.metaKnown && in.kind == e.Kind &&
		(e.Kind == metadata.Dir || in.etag == e.ETag)
	if in != nil && in.kind != metadata.Dir && (in.writer != nil || in.st != nil) {
		if e.Kind != metadata.Dir {
			return in // the local writer shadows the remote file
		}
		// A remote directory shadows even a file being written; the
		// writer keeps its own inode and still uploads when closed.
		in = nil
	}
	if in == nil || in.kind != e.Kind || otherVersionLocked(in, e) {
		in = f.newChildLocked(dir, e.Name, e.Kind)
	}
	in.local = false
	in.removed = false
	if e.Kind != metadata.Dir {
		f.setStatLocked(in, e.Size, e.ETag, e.Mtime, e.Data)
	} else {
		in.expiry = f.now().Add(f.cfg.DirTTL)
	}
	switch {
	case !posix || known:
	case listed:
		in.metaKnown = false
		in.expiry = time.Time{} // its attributes need a stat of its own
	default:
		if e.Kind == metadata.Dir {
			in.marker = e.ETag
		}
		f.setAttrsLocked(in, e)
	}
	return in
}

// Statfs reports fixed, large numbers: a bucket has no capacity limit.
type Statfs struct {
	Blocks, Bfree, Bavail, Files, Ffree uint64
	Bsize, NameLen                      uint32
}

// StatFS returns the file-system statistics; the files in use (Files less
// Ffree, df -i) are the inodes in the table.
func (f *FS) StatFS() Statfs {
	const big = 1 << 50
	return Statfs{Blocks: big, Bfree: big, Bavail: big, Files: big, Ffree: big - uint64(f.InodesInUse()), Bsize: 4096, NameLen: nameMax}
}
