package fs

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// fresh is a second mount of the same bucket, with nothing cached.
func (e *env) fresh() *env {
	e.t.Helper()
	f := New(e.fault, e.fs.cfg)
	f.now, f.tgid, f.killed, f.minPart = e.fs.now, e.fs.tgid, e.fs.killed, e.fs.minPart
	return &env{t: e.t, fs: f, store: e.store, fault: e.fault, clock: e.clock}
}

var alice = Caller{Pid: 7, UID: 1001, GID: 1002}

func TestMkdirPersistsAMarkerWithItsAttributes(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	a, err := e.fs.MkdirAs(ctx, RootIno, "empty", 0o750, alice)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode != syscall.S_IFDIR|0o750 || a.UID != 1001 || a.GID != 1002 {
		t.Fatalf("mkdir attr %+v", a)
	}
	md, ok := e.store.Metadata("empty/")
	if !ok || md["mode"] != "16872" || md["uid"] != "1001" {
		t.Fatalf("marker metadata %v (exists %v)", md, ok)
	}
	// A fresh mount sees the empty directory with its attributes.
	f := e.fresh()
	got := f.mustResolve("empty")
	if got.Mode != syscall.S_IFDIR|0o750 || got.UID != 1001 || got.GID != 1002 {
		t.Fatalf("fresh mount: %+v", got)
	}
	if _, err := e.fs.MkdirAs(ctx, RootIno, "empty", 0o755, alice); Errno(err) != syscall.EEXIST {
		t.Fatalf("mkdir of an existing directory: %v", err)
	}
	if err := f.fs.Rmdir(ctx, RootIno, "empty"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("empty/"); ok {
		t.Fatal("rmdir left the marker")
	}
}

func TestRmdirRefusesNonEmptyDirectories(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("d/", nil)
	e.store.PutObject("d/f", []byte("x"))
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "d"), syscall.ENOTEMPTY)
	if err := e.fs.Unlink(ctx, e.mustResolve("d").Ino, "f"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Rmdir(ctx, RootIno, "d"); err != nil {
		t.Fatalf("rmdir of a directory held by a marker written by another tool: %v", err)
	}
	if len(e.store.Keys()) != 0 {
		t.Fatalf("keys left: %v", e.store.Keys())
	}
}

func TestSymlinksAreObjectsS3fsCanRead(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	a, err := e.fs.Symlink(ctx, RootIno, "link", "target/file.txt", alice)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode != syscall.S_IFLNK|0o777 || a.Size != int64(len("target/file.txt")) {
		t.Fatalf("symlink attr %+v", a)
	}
	if b := string(e.mustObject("link")); b != "target/file.txt" {
		t.Fatalf("symlink object body %q", b)
	}
	if md, _ := e.store.Metadata("link"); md["mode"] != "41471" {
		t.Fatalf("symlink mode metadata %v", md)
	}
	f := e.fresh()
	la := f.mustResolve("link")
	if la.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Fatalf("fresh mount sees mode %o", la.Mode)
	}
	if target, err := f.fs.Readlink(ctx, la.Ino); err != nil || target != "target/file.txt" {
		t.Fatalf("readlink = %q, %v", target, err)
	}
	// A listing cannot tell a symlink from a file: its type is left
	// unknown unless its stat ahead came back first; never a regular file.
	g := e.fresh()
	ents, err := g.fs.ReadDir(ctx, RootIno)
	if err != nil || len(ents) != 3 || (ents[2].Mode != 0 && ents[2].Mode != syscall.S_IFLNK) {
		t.Fatalf("listing of an unstatted symlink: %+v, %v", ents, err)
	}
	if target, err := g.fs.Readlink(ctx, g.mustResolve("link").Ino); err != nil || target != "target/file.txt" {
		t.Fatalf("readlink after a listing = %q, %v", target, err)
	}
}

func TestAttributesPersistInMetadataWithoutResending(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", pattern(3<<20))
	ino := e.mustResolve("f").Ino
	mode, uid, gid := uint32(0o600), uint32(42), uint32(43)
	mtime := time.Unix(1_500_000_000, 123456789)
	s := e.countSent()
	e.store.ResetCounts()
	if _, err := e.fs.Setattr(ctx, ino, SetattrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Setattr(ctx, ino, SetattrIn{UID: &uid, GID: &gid, Mtime: &mtime}); err != nil {
		t.Fatal(err)
	}
	if s.total() != 0 || e.store.Count("CopyObject") != 2 {
		t.Fatalf("metadata changes sent %d bytes with %d copies", s.total(), e.store.Count("CopyObject"))
	}
	md, _ := e.store.Metadata("f")
	if md["mode"] != "33152" || md["uid"] != "42" || md["gid"] != "43" || md["mtime"] != "1500000000.123456789" {
		t.Fatalf("metadata %v", md)
	}
	a := e.fresh().mustResolve("f")
	if a.Mode != syscall.S_IFREG|0o600 || a.UID != 42 || a.GID != 43 || !a.Mtime.Equal(mtime) {
		t.Fatalf("fresh mount sees %+v", a)
	}
}

func TestS3fsMetadataIsShown(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.seedMeta("script.sh", []byte("#!/bin/sh\n"),
		map[string]string{"mode": "33261", "uid": "0", "gid": "0", "mtime": "1600000000"})
	e.store.PutObject("plain", []byte("x"))
	a := e.mustResolve("script.sh")
	if a.Mode != syscall.S_IFREG|0o755 || a.UID != 0 || !a.Mtime.Equal(time.Unix(1_600_000_000, 0)) {
		t.Fatalf("s3fs object shown as %+v", a)
	}
	if p := e.mustResolve("plain"); p.Mode != syscall.S_IFREG|0o644 || p.UID != 1000 {
		t.Fatalf("object without metadata shown as %+v", p)
	}
}

func TestNewFilesCarryTheirCreatorAndMode(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	_, h, err := e.fs.CreateAs(ctx, RootIno, "new", syscall.O_WRONLY|syscall.O_CREAT, 0o640, alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	md, _ := e.store.Metadata("new")
	if md["mode"] != "33184" || md["uid"] != "1001" || md["gid"] != "1002" {
		t.Fatalf("new file metadata %v", md)
	}
	// Its mtime is its Last-Modified, unless utimes sets one.
	if _, ok := md["mtime"]; ok {
		t.Fatalf("a new file's mtime was written: %v", md)
	}
	if got := e.mustObject("new"); len(got) != 0 {
		t.Fatalf("empty new file is %d bytes", len(got))
	}
}

func TestDefaultMountIgnoresPOSIXMetadata(t *testing.T) {
	e := newEnv(t, nil)
	e.seedMeta("f", []byte("x"), map[string]string{"mode": "33261", "uid": "0"})
	e.seedMeta("l", []byte("t"), map[string]string{"mode": "41471"})
	if a := e.mustResolve("f"); a.Mode != syscall.S_IFREG|0o644 || a.UID != 1000 {
		t.Fatalf("default mount shows %+v", a)
	}
	if a := e.mustResolve("l"); a.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Fatalf("default mount shows an s3fs symlink as %o", a.Mode)
	}
}

// seedMeta puts an object with user metadata, as another tool would.
func (e *env) seedMeta(key string, data []byte, md map[string]string) {
	e.t.Helper()
	if _, err := e.store.Put(ctx, objstore.PutInput{Key: key, Body: data, Metadata: md}); err != nil {
		e.t.Fatal(err)
	}
}

// A POSIX-mode listing stats its entries ahead, in parallel: the lookups
// that follow (ls -l) cost no request, and see the attributes.
func TestListingStatsItsEntriesAhead(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	for i := 0; i < 50; i++ {
		e.seedMeta(fmt.Sprintf("d/f%02d", i), []byte("x"), map[string]string{"mode": "33216"}) // 0700
	}
	e.seedMeta("d/sub/", nil, map[string]string{"mode": "16832"})
	d := e.mustResolve("d")
	if _, err := e.fs.ReadDir(ctx, d.Ino); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.store.ResetCounts()
	for i := 0; i < 50; i++ {
		a, err := e.fs.Lookup(ctx, d.Ino, fmt.Sprintf("f%02d", i))
		if err != nil || a.Mode != syscall.S_IFREG|0o700 {
			t.Fatalf("lookup f%02d: %+v, %v", i, a, err)
		}
	}
	if a, err := e.fs.Lookup(ctx, d.Ino, "sub"); err != nil || a.Mode != syscall.S_IFDIR|0o700 {
		t.Fatalf("lookup sub: %+v, %v", a, err)
	}
	if n := e.store.Count("Get") + e.store.Count("Head") + e.store.Count("List"); n != 0 {
		t.Fatalf("lookups after the listing sent %d requests", n)
	}
}

// A file's mtime is its Last-Modified unless utimes set one; a write drops
// one set before (s3fs's included).
func TestWritingDropsAnOldMtime(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.seedMeta("f", []byte("old"), map[string]string{"mode": "33188", "mtime": "1500000000", "owner": "x"})
	if a := e.mustResolve("f"); !a.Mtime.Equal(time.Unix(1_500_000_000, 0)) {
		t.Fatalf("mtime %v", a.Mtime)
	}
	h := e.open("f", syscall.O_WRONLY|syscall.O_APPEND)
	e.pwrite(h, []byte("new"), 0)
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	md, _ := e.store.Metadata("f")
	if _, ok := md["mtime"]; ok || md["owner"] != "x" || md["mode"] != "33188" {
		t.Fatalf("metadata after a write: %v", md)
	}
	if a := e.fresh().mustResolve("f"); a.Mtime.Before(time.Unix(1_600_000_000, 0)) {
		t.Fatalf("mtime after a write %v", a.Mtime)
	}
}
