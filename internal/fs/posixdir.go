package fs

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Directories and symbolic links in POSIX mode: mkdir writes a "d/"
// marker object (with If-None-Match, and the directory's attributes as
// metadata), rmdir of an empty directory deletes it, and a symbolic link is
// an object holding its target (s3fs's convention, see metadata/attrs.go).

// emptyCRC32C is the CRC32C of no bytes, for markers.
var emptyCRC32C = objstore.CRC32C(crc32.Checksum(nil, crc32.MakeTable(crc32.Castagnoli)))

// MkdirAs is Mkdir by caller c with permission bits mode. In POSIX mode the
// directory is written to the bucket at once as a marker.
func (f *FS) MkdirAs(ctx context.Context, parent uint64, name string, mode uint32, c Caller) (Attr, error) {
	if !f.cfg.Posix {
		return f.Mkdir(ctx, parent, name)
	}
	dir, key, err := f.newName(ctx, parent, name, "mkdir", "/")
	if err != nil {
		return Attr{}, err
	}
	attrs := f.newAttrs(syscall.S_IFDIR, mode, c)
	out, err := f.client.Put(ctx, objstore.PutInput{Key: key, IfNoneMatch: true, ChecksumCRC32C: emptyCRC32C,
		Metadata: attrs.Metadata(nil)})
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return Attr{}, errorf(syscall.EEXIST, "mkdir %q: another client created it", key)
	}
	if err != nil {
		return Attr{}, wrapf(0, err, "mkdir %q", key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.newChildLocked(dir, name, metadata.Dir)
	in.marker, in.attrs, in.meta, in.metaKnown = out.ETag, attrs, attrs.Metadata(nil), true
	in.mtime = attrs.Mtime
	in.expiry = f.now().Add(f.cfg.DirTTL)
	return f.attrLocked(in), nil
}

// newName checks that name can be made in parent (valid, free, short
// enough with suffix) and returns the directory and the new key.
func (f *FS) newName(ctx context.Context, parent uint64, name, op, suffix string) (*inode, string, error) {
	if f.cfg.ReadOnly {
		return nil, "", errorf(syscall.EROFS, "%s %q: read-only mount", op, name)
	}
	if !metadata.ValidName(name) {
		return nil, "", errorf(syscall.EINVAL, "%s %q: not a valid name", op, name)
	}
	if _, err := f.lookup(ctx, parent, name); err == nil {
		return nil, "", errorf(syscall.EEXIST, "%s %q: file exists", op, name)
	} else if Errno(err) != syscall.ENOENT {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, err := f.dirLocked(parent)
	if err != nil {
		return nil, "", err
	}
	if c := f.childLocked(dir, name); c != nil && c.pending() {
		return nil, "", errorf(syscall.EEXIST, "%s %q: file exists", op, c.key)
	}
	if dir.removed {
		return nil, "", errorf(syscall.ENOENT, "%s %q: directory was removed", op, dir.key+name)
	}
	key := dir.key + name + suffix
	if err := maxKeyErr(key); err != nil {
		return nil, "", err
	}
	return dir, key, nil
}

// rmdirPosix removes an empty directory: its marker object, if it has one.
// REQUIRES(nothing); in is the looked-up directory.
func (f *FS) rmdirPosix(ctx context.Context, in *inode) error {
	f.mu.Lock()
	key := in.key
	if in.ino == RootIno {
		f.mu.Unlock()
		return errorf(syscall.EBUSY, "rmdir: the mount's root")
	}
	for _, cino := range in.children {
		if c := f.inodes[cino]; c != nil && c.pending() {
			f.mu.Unlock()
			return errorf(syscall.ENOTEMPTY, "rmdir %q: directory not empty", key)
		}
	}
	f.mu.Unlock()
	marker, err := f.emptyInBucket(ctx, key, "rmdir")
	if err != nil {
		return err
	}
	if marker {
		if err := f.client.Delete(ctx, key); err != nil {
			return wrapf(0, err, "rmdir %q", key)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}

// Symlink makes a symbolic link name in parent pointing to target (POSIX
// mode): an object whose body is the target, created with If-None-Match.
func (f *FS) Symlink(ctx context.Context, parent uint64, name, target string, c Caller) (Attr, error) {
	if f.cfg.ReadOnly {
		return Attr{}, errorf(syscall.EROFS, "symlink %q: read-only mount", name)
	}
	if !f.cfg.Posix {
		return Attr{}, errorf(syscall.EPERM, "symlink %q: symbolic links are kept only with --posix", name)
	}
	if target == "" || len(target) > 4095 {
		return Attr{}, errorf(syscall.EINVAL, "symlink %q: target of %d bytes", name, len(target))
	}
	dir, key, err := f.newName(ctx, parent, name, "symlink", "")
	if err != nil {
		return Attr{}, err
	}
	attrs := f.newAttrs(syscall.S_IFLNK, 0o777, c)
	body := []byte(target)
	out, err := f.client.Put(ctx, objstore.PutInput{Key: key, Body: body, IfNoneMatch: true,
		ChecksumCRC32C: objstore.CRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))),
		Metadata:       attrs.Metadata(nil)})
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return Attr{}, errorf(syscall.EEXIST, "symlink %q: another client created it", key)
	}
	if err != nil {
		return Attr{}, wrapf(0, err, "symlink %q", key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.newChildLocked(dir, name, metadata.Symlink)
	in.attrs, in.meta, in.metaKnown, in.target = attrs, attrs.Metadata(nil), true, target
	f.setStatLocked(in, int64(len(body)), out.ETag, attrs.Mtime, nil)
	return f.attrLocked(in), nil
}

// Readlink returns a symbolic link's target, reading its object if the
// stat did not bring it.
func (f *FS) Readlink(ctx context.Context, ino uint64) (string, error) {
	f.mu.Lock()
	in := f.inodes[ino]
	if in == nil {
		f.mu.Unlock()
		return "", errorf(syscall.ESTALE, "inode %d is not known", ino)
	}
	if in.kind != metadata.Symlink {
		f.mu.Unlock()
		return "", errorf(syscall.EINVAL, "readlink %q: not a symbolic link", in.key)
	}
	if in.target != "" {
		defer f.mu.Unlock()
		return in.target, nil
	}
	key, etag := in.key, in.etag
	f.mu.Unlock()
	out, err := f.client.Get(ctx, objstore.GetInput{Key: key, Length: -1, IfMatch: etag})
	if err != nil {
		return "", wrapf(0, err, "readlink %q", key)
	}
	defer out.Body.Close()
	if out.Length > 4095 {
		return "", errorf(syscall.EIO, "readlink %q: a target of %d bytes", key, out.Length)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, out.Length+1))
	if err != nil || int64(len(b)) != out.Length {
		return "", errorf(syscall.EIO, "readlink %q: read %d of %d bytes: %v", key, len(b), out.Length, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.etag == etag {
		in.target = string(b)
	}
	return string(b), nil
}

// unlinkEdited unlinks a file open for editing: its object (if it has one)
// is deleted now, and the edit's later commits are dropped, as a local file
// system forgets an unlinked file's data at its last close.
func (f *FS) unlinkEdited(ctx context.Context, in *inode, st *staged) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	f.abandonBehindLocked(st)
	f.mu.Lock()
	key := in.key
	f.mu.Unlock()
	if st.baseETag != "" {
		if err := f.client.Delete(ctx, key); err != nil {
			return wrapf(0, err, "unlink %q", key)
		}
	}
	st.unlinked = true
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detachLocked(in)
	return nil
}
