package fs

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

func TestDirectoryShadowsFileOfSameName(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowDelete = true })
	e.store.PutObject("a", []byte("object a"))
	e.store.PutObject("a/b", []byte("b"))
	if got := e.names(""); !equalStrings(got, []string{"a:d"}) {
		t.Fatalf("listing = %v, want only directory a", got)
	}
	if a := e.mustResolve("a"); !a.IsDir() {
		t.Fatalf("a is not a directory: %+v", a)
	}
	// Deleting the last key under a/ makes the object a visible again.
	if err := e.fs.Unlink(ctx, e.mustResolve("a").Ino, "b"); err != nil {
		t.Fatal(err)
	}
	e.clock.add(2 * time.Second)
	if got := e.names(""); !equalStrings(got, []string{"a:f"}) {
		t.Fatalf("listing after delete = %v, want file a", got)
	}
	a := e.mustResolve("a")
	if a.IsDir() || a.Size != int64(len("object a")) {
		t.Fatalf("a after delete = %+v", a)
	}
}

func TestUnnamableKeysAreHidden(t *testing.T) {
	e := newEnv(t, nil)
	for _, k := range []string{"ok.txt", "a//b", "./x", "../y", "c/./d", "c/../e", "c/f", "nul\x00byte", "marker/", "trail/.", "trail/.."} {
		e.store.PutObject(k, []byte(k))
	}
	got := e.names("")
	want := []string{"a:d", "c:d", "marker:d", "ok.txt:f", "trail:d"}
	if !equalStrings(got, want) {
		t.Fatalf("root = %v, want %v", got, want)
	}
	if got := e.names("c"); !equalStrings(got, []string{"f:f"}) {
		t.Fatalf("c = %v", got)
	}
	if got := e.names("a"); len(got) != 0 {
		t.Fatalf("a = %v, want empty (its only key a//b has an empty name)", got)
	}
	if got := e.names("marker"); len(got) != 0 {
		t.Fatalf("marker = %v, want empty", got)
	}
	for _, name := range []string{".", "..", ""} {
		if _, err := e.fs.Lookup(ctx, RootIno, name); Errno(err) != syscall.ENOENT {
			t.Errorf("lookup %q: %v, want ENOENT", name, err)
		}
	}
}

func TestListingIsLexicographicByName(t *testing.T) {
	e := newEnv(t, nil)
	for _, k := range []string{"a-b", "a/x", "a0", "B", "a.txt", "ab/c"} {
		e.store.PutObject(k, nil)
	}
	got := e.names("")
	want := []string{"B:f", "a:d", "a-b:f", "a.txt:f", "a0:f", "ab:d"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestLargeDirectoryListsCompletely(t *testing.T) {
	e := newEnv(t, nil)
	const n = 100_000
	for i := 0; i < n; i++ {
		e.store.PutObject(fmt.Sprintf("big/f%06d", i), nil)
	}
	e.store.PutObject("big/sub/x", nil)
	ents, err := e.fs.ReadDir(ctx, e.mustResolve("big").Ino)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n+3 {
		t.Fatalf("got %d entries, want %d", len(ents), n+3)
	}
	for i := 2; i < n+2; i++ {
		if want := fmt.Sprintf("f%06d", i-2); ents[i].Name != want {
			t.Fatalf("entry %d = %q, want %q", i, ents[i].Name, want)
		}
	}
	if ents[n+2].Name != "sub" || ents[n+2].Mode != syscall.S_IFDIR {
		t.Fatalf("last entry = %+v", ents[n+2])
	}
	if pages := e.store.Count("List"); pages < n/1000 {
		t.Fatalf("only %d LIST pages for %d keys: listing not paged", pages, n)
	}
}

func TestLookupAfterListingCostsNoRequest(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("d/x", []byte("xx"))
	e.store.PutObject("d/y", []byte("y"))
	d := e.mustResolve("d")
	if _, err := e.fs.ReadDir(ctx, d.Ino); err != nil {
		t.Fatal(err)
	}
	heads, lists := e.store.Count("Head"), e.store.Count("List")
	a, err := e.fs.Lookup(ctx, d.Ino, "x")
	if err != nil || a.Size != 2 {
		t.Fatalf("lookup x = %+v, %v", a, err)
	}
	if e.store.Count("Head") != heads || e.store.Count("List") != lists {
		t.Fatal("lookup right after readdir went to S3")
	}
}

func TestListingsShowOtherClientsChangesAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DirTTL, c.FileTTL = time.Hour, time.Hour })
	e.store.PutObject("one", nil)
	if got := e.names(""); !equalStrings(got, []string{"one:f"}) {
		t.Fatal(got)
	}
	e.store.PutObject("two", nil)
	if err := e.store.Delete(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if got := e.names(""); !equalStrings(got, []string{"two:f"}) {
		t.Fatalf("listing not refreshed: %v", got)
	}
}

func TestStatRefreshesAfterTTL(t *testing.T) {
	e := newEnv(t, nil) // files 100 ms, dirs 1 s
	e.store.PutObject("f", []byte("1"))
	if a := e.mustResolve("f"); a.Size != 1 {
		t.Fatal(a)
	}
	e.store.PutObject("f", []byte("1234"))
	if a := e.mustResolve("f"); a.Size != 1 {
		t.Fatalf("within the TTL the cached stat is used, got size %d", a.Size)
	}
	e.clock.add(150 * time.Millisecond)
	a := e.mustResolve("f")
	if a.Size != 4 {
		t.Fatalf("after the TTL: size %d, want 4", a.Size)
	}
	if g, err := e.fs.Getattr(ctx, a.Ino); err != nil || g.Size != 4 {
		t.Fatalf("getattr = %+v, %v", g, err)
	}
	if err := e.store.Delete(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	e.clock.add(150 * time.Millisecond)
	_, err := e.fs.Getattr(ctx, a.Ino)
	wantErrno(t, err, syscall.ENOENT)
	_, err = e.resolve("f")
	wantErrno(t, err, syscall.ENOENT)
}

func TestMkdirIsLocalUntilAFileIsWritten(t *testing.T) {
	e := newEnv(t, nil)
	d, err := e.fs.Mkdir(ctx, RootIno, "new")
	if err != nil || !d.IsDir() {
		t.Fatalf("mkdir = %+v, %v", d, err)
	}
	if len(e.store.Keys()) != 0 {
		t.Fatalf("mkdir wrote to the bucket: %v", e.store.Keys())
	}
	if got := e.names(""); !equalStrings(got, []string{"new:d"}) {
		t.Fatalf("root = %v", got)
	}
	_, err = e.fs.Mkdir(ctx, RootIno, "new")
	wantErrno(t, err, syscall.EEXIST)
	sub, err := e.fs.Mkdir(ctx, d.Ino, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.writeFile("new/sub", "f.txt", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Object("new/sub/f.txt"); string(got) != "data" {
		t.Fatalf("object = %q", got)
	}
	// Both directories now exist through the key, and are no longer local.
	e.fs.mu.Lock()
	local := e.fs.inodes[d.Ino].local || e.fs.inodes[sub.Ino].local
	e.fs.mu.Unlock()
	if local {
		t.Fatal("directories still local after a file inside was uploaded")
	}
	wantErrno(t, e.fs.Rmdir(ctx, d.Ino, "sub"), syscall.ENOTEMPTY)
}

func TestRmdir(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("remote/x", nil)
	e.store.PutObject("marker/", nil)
	if _, err := e.fs.Mkdir(ctx, RootIno, "empty"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Rmdir(ctx, RootIno, "empty"); err != nil {
		t.Fatalf("rmdir of empty local dir: %v", err)
	}
	_, err := e.resolve("empty")
	wantErrno(t, err, syscall.ENOENT)
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "remote"), syscall.ENOTEMPTY)
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "marker"), syscall.EPERM)
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "nothing"), syscall.ENOENT)
	e.store.PutObject("file", nil)
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "file"), syscall.ENOTDIR)
	// A local directory holding a file being written is not empty.
	d, _ := e.fs.Mkdir(ctx, RootIno, "busy")
	_, h, err := e.fs.Create(ctx, d.Ino, "w", syscall.O_WRONLY, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "busy"), syscall.ENOTEMPTY)
	e.fs.Release(ctx, h)
}

func TestUnlink(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("d/f", []byte("x"))
	d := e.mustResolve("d")
	wantErrno(t, e.fs.Unlink(ctx, d.Ino, "f"), syscall.EPERM)
	if _, ok := e.store.Object("d/f"); !ok {
		t.Fatal("object deleted without --allow-delete")
	}

	e = newEnv(t, func(c *Config) { c.AllowDelete = true })
	e.store.PutObject("d/f", []byte("x"))
	d = e.mustResolve("d")
	if err := e.fs.Unlink(ctx, d.Ino, "f"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("d/f"); ok {
		t.Fatal("object still there after unlink")
	}
	_, err := e.fs.Lookup(ctx, d.Ino, "f")
	wantErrno(t, err, syscall.ENOENT)
	// The directory disappears with its last object.
	e.clock.add(2 * time.Second)
	_, err = e.resolve("d")
	wantErrno(t, err, syscall.ENOENT)
	if got := e.names(""); len(got) != 0 {
		t.Fatalf("root = %v", got)
	}
	wantErrno(t, e.fs.Unlink(ctx, RootIno, "nope"), syscall.ENOENT)
	e.store.PutObject("dir/x", nil)
	wantErrno(t, e.fs.Unlink(ctx, RootIno, "dir"), syscall.EISDIR)
}

func TestReadOnlyRefusesEveryMutation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ReadOnly = true; c.AllowDelete = false })
	e.store.PutObject("f", []byte("x"))
	f := e.mustResolve("f")
	_, _, err := e.fs.Create(ctx, RootIno, "new", syscall.O_WRONLY, 1)
	wantErrno(t, err, syscall.EROFS)
	_, err = e.fs.Open(ctx, f.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	wantErrno(t, err, syscall.EROFS)
	_, err = e.fs.Mkdir(ctx, RootIno, "d")
	wantErrno(t, err, syscall.EROFS)
	wantErrno(t, e.fs.Rmdir(ctx, RootIno, "d"), syscall.EROFS)
	wantErrno(t, e.fs.Unlink(ctx, RootIno, "f"), syscall.EROFS)
	wantErrno(t, e.fs.Rename(ctx, RootIno, "f", RootIno, "g"), syscall.EROFS)
	wantErrno(t, e.fs.Link(ctx, "l"), syscall.EROFS)
	size := int64(0)
	_, err = e.fs.Setattr(ctx, f.Ino, SetattrIn{Size: &size})
	wantErrno(t, err, syscall.EROFS)
	if got, err := e.readAll("f"); err != nil || string(got) != "x" {
		t.Fatalf("read on a read-only mount = %q, %v", got, err)
	}
}

func TestUnsupportedOperations(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true; c.AllowDelete = true })
	e.store.PutObject("f", []byte("x"))
	f := e.mustResolve("f")
	wantErrno(t, e.fs.Rename(ctx, RootIno, "f", RootIno, "g"), syscall.ENOSYS)
	wantErrno(t, e.fs.Link(ctx, "l"), syscall.EPERM)
	mode := uint32(0600)
	_, err := e.fs.Setattr(ctx, f.Ino, SetattrIn{Mode: &mode})
	wantErrno(t, err, syscall.EPERM)
	uid := uint32(0)
	_, err = e.fs.Setattr(ctx, f.Ino, SetattrIn{UID: &uid})
	wantErrno(t, err, syscall.EPERM)
	now := time.Now()
	_, err = e.fs.Setattr(ctx, f.Ino, SetattrIn{Mtime: &now})
	wantErrno(t, err, syscall.EPERM)
	if e.store.Count("Put")+e.store.Count("Delete") != 0 {
		t.Fatal("an unsupported operation changed the bucket")
	}
	_ = metadata.File
}

func TestMtimeIsStableAcrossHEADAndLIST(t *testing.T) {
	e := newEnv(t, nil)
	e.fs.client = &milliList{e.fault}   // LIST in milliseconds, HEAD in seconds, as S3 does
	e.store.PutObject("f", []byte("x")) // in the root: no lookup of a directory sends a stat of its own
	listed, err := e.fs.ReadDir(ctx, RootIno)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := e.fs.Getattr(ctx, listed[2].Ino) // from the listing
	if err != nil {
		t.Fatal(err)
	}
	stats := e.store.Count("Head") + e.store.Count("Get")
	e.clock.add(time.Second)
	a2, err := e.fs.Getattr(ctx, listed[2].Ino) // refreshed by a stat+LIST lookup
	if err != nil {
		t.Fatal(err)
	}
	if e.store.Count("Head")+e.store.Count("Get") != stats+1 {
		t.Fatal("the second stat did not ask S3")
	}
	if !a1.Mtime.Equal(a2.Mtime) || a1.Mtime.Nanosecond() != 0 {
		t.Fatalf("mtime %v then %v: must be whole seconds and stable", a1.Mtime, a2.Mtime)
	}
}

// milliList reports LastModified with 123 ms more in listings than HEAD does.
type milliList struct{ objstore.Client }

func (m *milliList) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	out, err := m.Client.List(ctx, in)
	for i := range out.Objects {
		out.Objects[i].LastModified = out.Objects[i].LastModified.Add(123 * time.Millisecond)
	}
	return out, err
}
