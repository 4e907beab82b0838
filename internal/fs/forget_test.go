package fs

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SEMANTICS "Resources": an inode the kernel forgets (its lookup count
// reached zero) leaves the table, and its name's next lookup works.
func TestForgottenInodesAreDropped(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("d/f", []byte("hello"))
	d, f := e.mustResolve("d"), e.mustResolve("d/f")
	e.mustResolve("d/f") // a second lookup: one FORGET still drops it (go-fuse counts)
	if n := e.fs.InodesInUse(); n != 3 {
		t.Fatalf("%d inodes after looking up d/f, want 3", n)
	}
	e.fs.Forget(f.Ino)
	e.fs.Forget(d.Ino)
	if n := e.fs.InodesInUse(); n != 1 {
		t.Fatalf("%d inodes after the kernel forgot d and d/f, want the root alone", n)
	}
	if s := e.fs.StatFS(); s.Files-s.Ffree != 1 {
		t.Fatalf("statfs shows %d files in use, want 1", s.Files-s.Ffree)
	}
	if _, err := e.fs.Getattr(ctx, f.Ino); Errno(err) != syscall.ESTALE {
		t.Fatalf("getattr of a forgotten inode: %v, want ESTALE", err)
	}
	if got, err := e.readAll("d/f"); err != nil || string(got) != "hello" {
		t.Fatalf("reading d/f again after the forget: %q, %v", got, err)
	}
}

// SEMANTICS "Resources": inodes with open handles or local state survive
// the kernel's forget: readers, writers, directories made by mkdir and the
// directories that hold them.
func TestInodesWithHandlesOrLocalStateSurviveForget(t *testing.T) {
	e := newEnv(t, nil)
	data := bytes.Repeat([]byte("r"), 200<<10)
	e.store.PutObject("d/r", data)
	dir, r := e.mustResolve("d"), e.mustResolve("d/r")
	h, err := e.fs.Open(ctx, r.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, w, err := e.fs.Create(ctx, dir.Ino, "w", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	local, err := e.fs.Mkdir(ctx, RootIno, "local")
	if err != nil {
		t.Fatal(err)
	}
	for _, ino := range []uint64{r.Ino, w.Ino(), local.Ino, dir.Ino} {
		e.fs.Forget(ino)
	}
	if n := e.fs.InodesInUse(); n != 5 {
		t.Fatalf("%d inodes after the forgets, want 5 (root, d, d/r open, d/w being written, local)", n)
	}
	buf := make([]byte, 4096)
	if n, err := e.fs.Read(ctx, h, buf, 100<<10); err != nil || n != len(buf) || !bytes.Equal(buf, data[100<<10:104<<10]) {
		t.Fatalf("read of a forgotten file still open: %d, %v", n, err)
	}
	if _, err := e.fs.Write(ctx, w, []byte("written"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, w, 7); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, w)
	if got, _ := e.store.Object("d/w"); string(got) != "written" {
		t.Fatalf("a forgotten writer's object: %q", got)
	}
	if _, err := e.fs.Getattr(ctx, local.Ino); err != nil {
		t.Fatalf("the local directory was dropped: %v", err)
	}
	e.fs.Release(ctx, h) // the last handle: now the file goes
	if _, err := e.fs.Getattr(ctx, r.Ino); Errno(err) != syscall.ESTALE {
		t.Fatalf("getattr of a forgotten file after its last close: %v, want ESTALE", err)
	}
}

// SEMANTICS "Resources": the inodes a listing makes that the kernel is
// never given (READDIR, not READDIRPLUS) are bounded, and the listing of a
// directory far larger than the bound stays complete and in order.
func TestUnreferencedInodesAreBounded(t *testing.T) {
	e := newEnv(t, nil)
	const n = 3 * maxUnreferenced
	for i := 0; i < n; i++ {
		e.store.PutObject(fmt.Sprintf("big/f%06d", i), nil)
	}
	e.store.PutObject("big/f000010/x", nil) // a directory shadows the file of its name
	big := e.mustResolve("big")
	ents, err := e.fs.ReadDir(ctx, big.Ino)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n+2 || ents[12].Name != "f000010" || ents[12].Mode != syscall.S_IFDIR {
		t.Fatalf("got %d entries (want %d), entry 12 %+v", len(ents), n+2, ents[12])
	}
	for i := 2; i < len(ents); i++ {
		if want := fmt.Sprintf("f%06d", i-2); ents[i].Name != want {
			t.Fatalf("entry %d = %q, want %q", i, ents[i].Name, want)
		}
	}
	if got := e.fs.InodesInUse(); got > maxUnreferenced+2 {
		t.Fatalf("%d inodes after listing %d names, want at most %d", got, n, maxUnreferenced+2)
	}
	// The last names listed are still known: their lookup costs nothing.
	count := e.requests()
	e.mustResolve(fmt.Sprintf("big/f%06d", n-1))
	if got := count(); len(got) != 0 {
		t.Fatalf("lookup right after the listing sent %v", got)
	}
}

// SEMANTICS "Directories": a name longer than 255 bytes is ENAMETOOLONG for
// lookup, create and mkdir, and sends no request.
func TestLongNamesSendNoRequest(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("x", 256)
	count := e.requests()
	_, err := e.fs.Lookup(ctx, RootIno, long)
	wantErrno(t, err, syscall.ENAMETOOLONG)
	_, _, err = e.fs.Create(ctx, RootIno, long, syscall.O_WRONLY|syscall.O_CREAT, 7)
	wantErrno(t, err, syscall.ENAMETOOLONG)
	_, err = e.fs.Mkdir(ctx, RootIno, long)
	wantErrno(t, err, syscall.ENAMETOOLONG)
	if got := count(); len(got) != 0 {
		t.Fatalf("long names sent %v", got)
	}
	if _, err := e.fs.Lookup(ctx, RootIno, long[:255]); Errno(err) != syscall.ENOENT {
		t.Fatalf("lookup of a missing 255-byte name: %v, want ENOENT", err)
	}
}

// SEMANTICS "Reading": a new version of a file open for reading gets an
// inode of its own, so the kernel never caches its pages where the old
// version's handles read; an open that finds the new version on the old
// inode fails with ESTALE (the kernel then looks the name up again).
func TestANewVersionOfAnOpenFileGetsItsOwnInode(t *testing.T) {
	e := newEnv(t, nil)
	a, b := bytes.Repeat([]byte("a"), 100<<10), bytes.Repeat([]byte("b"), 100<<10)
	e.store.PutObject("f", a)
	old := e.mustResolve("f")
	h, err := e.fs.Open(ctx, old.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.fs.Release(ctx, h)
	e.store.PutObject("f", b)
	e.clock.add(150 * time.Millisecond)
	if _, err := e.fs.Open(ctx, old.Ino, syscall.O_RDONLY, 1); Errno(err) != syscall.ESTALE {
		t.Fatalf("open of the old inode after the change: %v, want ESTALE", err)
	}
	fresh := e.mustResolve("f")
	if fresh.Ino == old.Ino {
		t.Fatal("the new version kept the inode its old version is open on")
	}
	if got, err := e.readAll("f"); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("the new inode reads %d bytes, %v", len(got), err)
	}
	buf := make([]byte, 4096)
	n, err := e.fs.Read(ctx, h, buf, 0)
	if err == nil && !bytes.Equal(buf[:n], a[:n]) {
		t.Fatal("the old handle read bytes of the new version")
	}
}
