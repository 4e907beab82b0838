package fs

import (
	"context"
	"sort"
	"strings"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // type bits only
}

// ReadDir lists directory ino: "." and "..", then every visible name in
// byte-wise lexicographic order. Listings are not cached: every call asks S3,
// so objects other clients add or remove show up at once. The entries it
// returns are remembered with their stat for the metadata TTL, so the lookups
// that follow a listing (ls -l, readdirplus) cost no request.
func (f *FS) ReadDir(ctx context.Context, ino uint64) ([]DirEntry, error) {
	f.mu.Lock()
	dir, err := f.dirLocked(ino)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	dirKey := dir.key
	f.mu.Unlock()

	remote, err := metadata.ListDir(ctx, f.client, dirKey, 0)
	if err != nil {
		return nil, wrapf(0, err, "readdir %q", dirKey)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]DirEntry, 0, len(remote)+2)
	out = append(out, DirEntry{Name: ".", Ino: dir.ino, Mode: syscall.S_IFDIR}, DirEntry{Name: "..", Ino: dir.parent, Mode: syscall.S_IFDIR})
	seen := make(map[string]bool, len(remote))
	for _, e := range remote {
		seen[e.Name] = true
		c := f.childLocked(dir, e.Name)
		if c != nil && e.Kind == metadata.File && (c.local || c.writer != nil) {
			out = append(out, entryOf(c)) // local shadows a remote file
			continue
		}
		out = append(out, entryOf(f.upsertLocked(dir, e)))
	}
	var locals []DirEntry
	for name, cino := range dir.children {
		c := f.inodes[cino]
		if seen[name] || c == nil {
			continue
		}
		if c.local || c.writer != nil {
			locals = append(locals, entryOf(c))
		} else {
			f.detachLocked(c) // gone from the bucket
		}
	}
	if len(locals) > 0 {
		out = append(out, locals...)
		rest := out[2:]
		sort.Slice(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	}
	return out, nil
}

func entryOf(in *inode) DirEntry {
	mode := uint32(syscall.S_IFREG)
	if in.kind == metadata.Dir {
		mode = syscall.S_IFDIR
	}
	return DirEntry{Name: in.name, Ino: in.ino, Mode: mode}
}

// Mkdir makes a local directory. It is not written to the bucket: it exists
// in this mount until a file written inside it is uploaded (then the bucket
// has it through that key) or until the mount ends.
func (f *FS) Mkdir(ctx context.Context, parent uint64, name string) (Attr, error) {
	if f.cfg.ReadOnly {
		return Attr{}, errorf(syscall.EROFS, "mkdir %q: read-only mount", name)
	}
	if !metadata.ValidName(name) {
		return Attr{}, errorf(syscall.EINVAL, "mkdir %q: not a valid name", name)
	}
	if _, err := f.lookup(ctx, parent, name); err == nil {
		return Attr{}, errorf(syscall.EEXIST, "mkdir %q: file exists", name)
	} else if Errno(err) != syscall.ENOENT {
		return Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, err := f.dirLocked(parent)
	if err != nil {
		return Attr{}, err
	}
	if c := f.childLocked(dir, name); c != nil && (c.local || c.writer != nil) {
		return Attr{}, errorf(syscall.EEXIST, "mkdir %q: file exists", c.key)
	}
	if err := maxKeyErr(dir.key + name + "/"); err != nil {
		return Attr{}, err
	}
	in := f.newChildLocked(dir, name, metadata.Dir)
	in.local = true
	in.mtime = f.now()
	return f.attrLocked(in), nil
}

// Rmdir removes an empty directory made by mkdir. Directories that exist in
// the bucket cannot be removed (they vanish when their last object does).
func (f *FS) Rmdir(ctx context.Context, parent uint64, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "rmdir %q: read-only mount", name)
	}
	in, err := f.lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	if in.kind != metadata.Dir {
		f.mu.Unlock()
		return errorf(syscall.ENOTDIR, "rmdir %q: not a directory", in.key)
	}
	for _, cino := range in.children {
		if c := f.inodes[cino]; c != nil && (c.local || c.writer != nil) {
			f.mu.Unlock()
			return errorf(syscall.ENOTEMPTY, "rmdir %q: directory not empty", in.key)
		}
	}
	key, local := in.key, in.local
	f.mu.Unlock()

	out, err := f.client.List(ctx, objstore.ListInput{Prefix: key, MaxKeys: 2})
	if err != nil {
		return wrapf(0, err, "rmdir %q", key)
	}
	for _, o := range out.Objects {
		if o.Key != key {
			return errorf(syscall.ENOTEMPTY, "rmdir %q: directory not empty", key)
		}
	}
	if !local || len(out.Objects) > 0 {
		return errorf(syscall.EPERM, "rmdir %q: the directory exists in the bucket (as a %q marker object); only directories made by mkdir in this mount can be removed", key, key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}

// Unlink deletes a file's object at once (needs --allow-delete).
func (f *FS) Unlink(ctx context.Context, parent uint64, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "unlink %q: read-only mount", name)
	}
	if !f.cfg.AllowDelete {
		return errorf(syscall.EPERM, "unlink %q: deleting files needs --allow-delete", name)
	}
	in, err := f.lookup(ctx, parent, name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	key := in.key
	switch {
	case in.kind == metadata.Dir:
		f.mu.Unlock()
		return errorf(syscall.EISDIR, "unlink %q: is a directory", strings.TrimSuffix(key, "/"))
	case in.writer != nil || in.local:
		f.mu.Unlock()
		return errorf(syscall.EPERM, "unlink %q: the file is being written; close it first", key)
	}
	f.mu.Unlock()
	if err := f.client.Delete(ctx, key); err != nil {
		return wrapf(0, err, "unlink %q", key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}

// Rename is not supported: S3 general-purpose buckets have no atomic rename.
func (f *FS) Rename(ctx context.Context, parent uint64, name string, newParent uint64, newName string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "rename %q: read-only mount", name)
	}
	return errorf(syscall.ENOSYS, "rename %q → %q: S3 has no atomic rename; copy and delete instead", name, newName)
}

// Link and Symlink are not supported: S3 has no links.
func (f *FS) Link(ctx context.Context, name string) error {
	if f.cfg.ReadOnly {
		return errorf(syscall.EROFS, "link %q: read-only mount", name)
	}
	return errorf(syscall.EPERM, "link %q: links are not supported", name)
}
