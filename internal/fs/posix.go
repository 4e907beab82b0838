package fs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/prefetch"
	"github.com/bucketfs/bucketfs/internal/stage"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// POSIX mode (Config.Posix, Config.AllowEdit, Config.AllowRename): files are
// edited in place through a staged local copy (stage.File) shared by the
// file's open handles, and committed with a conditional write at close and
// fsync (commit.go); directories persist as "d/" markers, symbolic links as
// objects, and modes, owners and times as object metadata (metadata.Attrs,
// s3fs's keys).
//
// # Edits
//
// The first open for writing of a file (or any open while it is staged)
// attaches a staged edit to its inode: the base is the version the open's
// stat saw, and its ETag is the commit's condition (If-Match), or
// If-None-Match for a file created here. Objects of at most wholeFetchMax
// bytes are fetched whole when the edit starts, so that a conflict can
// always store every byte (see commit.go); larger ones fetch what is read.
// Writes, truncations and reads of every handle of the file go to the
// staged copy, so a reader in this mount sees the writes at once.
//
// LOCK ORDERING: handle.mu, then staged.mu, then FS.mu. staged.mu
// serializes the edit's changes and its commits; it is held across the
// requests of a commit (writes wait for a commit in progress).

// wholeFetchMax is the largest object an edit fetches whole when it starts:
// below it a commit needs almost every byte anyway (S3 copies only parts of
// at least 5 MiB), and a conflict copy needs every byte.
const wholeFetchMax = 2 * 5 << 20

// Caller is who makes a request: the process, for close() of dup'd
// descriptors, and the user and group new files and directories belong to
// in POSIX mode.
type Caller struct{ Pid, UID, GID uint32 }

// staged is the edit of one file, shared by its open handles.
type staged struct {
	mu   sync.Mutex
	file *stage.File

	// GUARDED_BY(mu)
	baseKey, baseETag string            // what clean ranges are copied from; "" ETag: nothing
	baseSize          int64             // the base's size
	condETag          string            // the commit's If-Match; "" means If-None-Match (a new file)
	baseMeta          map[string]string // the base's user metadata, carried over
	src               *prefetch.Reader  // reads the base, pinned; nil when baseETag is ""
	metaChanged       bool              // attributes set since the last commit
	created           bool              // never committed: the first close commits even if empty
	unlinked          bool              // the name is gone: commits are dropped
	killed            bool              // a close came from a process killed by a signal
	conflict          error             // sticky after a failed condition: later commits fail too
	sequential        bool              // written only in order from offset 0 so far (behind.go)
	behind            *upload.Behind    // the upload behind the writer, while sequential
	behindMeta        map[string]string // the metadata behind was started with

	handles int // GUARDED_BY(FS.mu) open handles on it
}

// pending reports whether in has state of this mount that shadows what the
// bucket says of its name: a local directory, a file being written or edited.
func (in *inode) pending() bool { return in.local || in.writer != nil || in.st != nil }

// editing reports whether the mount stages writes (edit in place).
func (f *FS) editing() bool { return f.cfg.AllowEdit && f.cfg.Stage != nil }

// posixAttrLocked applies in's object attributes to a (POSIX mode). REQUIRES(f.mu)
func (f *FS) posixAttrLocked(in *inode, a *Attr) {
	at := in.attrs
	if at.Mode != 0 {
		a.Mode = a.Mode&syscall.S_IFMT | at.Mode&0o7777
	}
	if at.HasUID {
		a.UID = at.UID
	}
	if at.HasGID {
		a.GID = at.GID
	}
	if !at.Mtime.IsZero() {
		a.Mtime = at.Mtime
	}
	if in.kind == metadata.Symlink {
		a.Mode = syscall.S_IFLNK | a.Mode&0o7777
		if at.Mode == 0 {
			a.Mode = syscall.S_IFLNK | 0o777
		}
		a.Size = int64(len(in.target))
	}
}

// setAttrsLocked records the attributes a stat of in's object (or marker)
// returned. REQUIRES(f.mu)
func (f *FS) setAttrsLocked(in *inode, e metadata.Entry) {
	in.meta = e.Meta
	in.attrs = metadata.ParseAttrs(e.Meta)
	in.metaKnown = true
	if in.kind == metadata.Symlink && e.Data != nil {
		in.target = string(e.Data)
	}
}

// newAttrs are the attributes of a file or directory created by c (a
// file's mtime is its object's Last-Modified, see touchLocked).
func (f *FS) newAttrs(kind uint32, mode uint32, c Caller) metadata.Attrs {
	return metadata.Attrs{Mode: kind | mode&0o7777, UID: c.UID, GID: c.GID, HasUID: true, HasGID: true,
		Mtime: f.now()}
}

// objectMetaLocked is the user metadata a commit of in writes: the base's,
// with in's attributes over it (POSIX mode), or the base's as it was.
// REQUIRES(f.mu)
func (f *FS) objectMetaLocked(in *inode, base map[string]string) map[string]string {
	if !f.cfg.Posix {
		return base
	}
	a := in.attrs
	if a.Mode == 0 {
		a.Mode = syscall.S_IFREG | f.cfg.FileMode
		if in.kind == metadata.Dir {
			a.Mode = syscall.S_IFDIR | f.cfg.DirMode
		}
	}
	md := a.Metadata(base)
	if a.Mtime.IsZero() {
		delete(md, metadata.MetaMtime) // written since: Last-Modified says when
	}
	return md
}

// conflictName is where the bytes of a commit whose condition failed are
// stored: "name.conflict-HOST-20261203T170550Z" next to the file (with
// "-2", "-3"... if that exists too).
func (f *FS) conflictName(key string, n int) string {
	host := strings.Map(func(r rune) rune {
		if r == '/' || r < ' ' {
			return '_'
		}
		return r
	}, f.cfg.Hostname)
	if host == "" {
		host = "localhost"
	}
	name := fmt.Sprintf("%s.conflict-%s-%s", key, host, f.now().UTC().Format("20060102T150405Z"))
	if n > 1 {
		name += fmt.Sprintf("-%d", n)
	}
	return name
}

// baseSource reads a staged file's base: the object version pinned by the
// shared reader. A changed base is reported as such, so a commit that needs
// its bytes sees a conflict.
type baseSource struct{ r *prefetch.Reader }

func (b baseSource) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if b.r == nil {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, errors.New("no version to read from")
	}
	n, err := b.r.ReadAt(ctx, p, off)
	if err != nil {
		return n, fmt.Errorf("read the version the edit started from: %w", err)
	}
	return n, nil
}

// baseReader returns a reader of key at etag for a staged file (nil for no base).
func (f *FS) baseReader(key, etag string, size int64) *prefetch.Reader {
	if etag == "" {
		return nil
	}
	pc := prefetch.Config{PartSize: f.readPart(), MaxWindow: f.readWindow()}
	return prefetch.New(f.client, key, etag, size, pc, f.budget)
}

// stageSource wraps r for stage.Dir.New (a nil reader is a nil Source).
func stageSource(r *prefetch.Reader) stage.Source {
	if r == nil {
		return nil
	}
	return baseSource{r}
}

// track records a commit's open multipart upload in the staging
// directory's journal (see stage.Dir.Track).
func (f *FS) track(key, uploadID string) func() {
	return f.cfg.Stage.Track(f.client.Bucket(), key, uploadID)
}

// touchLocked records a change of in's contents at now. In POSIX mode the
// object's own Last-Modified is then its mtime: the x-amz-meta-mtime of
// the version it started from no longer applies (utimes sets one again).
// REQUIRES(f.mu)
func (f *FS) touchLocked(in *inode) {
	in.mtime = f.now()
	in.attrs.Mtime = time.Time{}
}

// fetchEntryWithMarker is fetchEntry in POSIX mode: a directory's
// attributes live on its "name/" marker, so a HEAD of it runs beside the
// lookup (its answer is used only if the name is a directory).
func (f *FS) fetchEntryWithMarker(ctx context.Context, dirKey, name string) (metadata.Entry, error) {
	if !metadata.ValidName(name) {
		return metadata.Entry{}, metadata.ErrNotFound
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		info objstore.ObjectInfo
		err  error
	}
	marker := make(chan result, 1)
	go func() {
		info, err := f.client.Head(ctx, dirKey+name+"/")
		marker <- result{info, err}
	}()
	e, err := metadata.Lookup(ctx, f.client, dirKey, name, f.statMax())
	if err != nil || e.Kind != metadata.Dir {
		cancel()
		<-marker // no request outlives the lookup
		return e, err
	}
	m := <-marker
	switch {
	case m.err == nil:
		e.ETag, e.Meta, e.Mtime = m.info.ETag, m.info.Metadata, m.info.LastModified
	case errors.Is(m.err, objstore.ErrNotFound): // no marker: the directory exists through its keys
	default:
		return metadata.Entry{}, fmt.Errorf("head %q: %w", dirKey+name+"/", m.err)
	}
	return e, nil
}
