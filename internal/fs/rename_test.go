package fs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestRenameFileMovesContentAndMetadata(t *testing.T) {
	e := posixEnv(t, 1<<20, nil)
	e.seedMeta("a.txt", []byte("small"), map[string]string{"mode": "33261", "owner": "x"})
	e.store.PutObject("big.bin", pattern(3<<20))
	e.store.PutObject("d/", nil)
	if err := e.fs.Rename(ctx, RootIno, "a.txt", e.mustResolve("d").Ino, "b.txt"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("a.txt"); ok {
		t.Fatal("old key still there")
	}
	if md, _ := e.store.Metadata("d/b.txt"); string(e.mustObject("d/b.txt")) != "small" || md["mode"] != "33261" || md["owner"] != "x" {
		t.Fatalf("renamed object: %q %v", e.mustObject("d/b.txt"), md)
	}
	// A larger file is copied on the server, not sent again.
	s := e.countSent()
	if err := e.fs.Rename(ctx, RootIno, "big.bin", RootIno, "big2.bin"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.mustObject("big2.bin"), pattern(3<<20)) || s.total() != 0 {
		t.Fatalf("big rename sent %d bytes", s.total())
	}
	// The inode table follows.
	if got, err := e.readAll("d/b.txt"); err != nil || string(got) != "small" {
		t.Fatalf("read after rename: %q %v", got, err)
	}
	if _, err := e.resolve("a.txt"); Errno(err) != syscall.ENOENT {
		t.Fatalf("old name: %v", err)
	}
}

func TestRenameOntoAFileReplacesIt(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("new", []byte("new contents"))
	e.store.PutObject("old", []byte("old contents"))
	if err := e.fs.RenameFlags(ctx, RootIno, "new", RootIno, "old", renameNoReplace); Errno(err) != syscall.EEXIST {
		t.Fatalf("RENAME_NOREPLACE onto a file: %v", err)
	}
	if err := e.fs.RenameFlags(ctx, RootIno, "new", RootIno, "old", renameExchange); Errno(err) != syscall.EINVAL {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	if err := e.fs.Rename(ctx, RootIno, "new", RootIno, "old"); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("old")); got != "new contents" || len(e.store.Keys()) != 1 {
		t.Fatalf("after rename: %q, keys %v", got, e.store.Keys())
	}
}

func TestRenameNeverOverwritesAVersionItDidNotSee(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("src", []byte("mine"))
	e.store.PutObject("dst", []byte("seen"))
	e.mustResolve("dst")
	// Another client rewrites dst after this mount looked at it.
	e.fault.Inject(func(op, key string) error {
		if op == "Put" && key == "dst" {
			e.fault.Clear()
			e.store.PutObject("dst", []byte("theirs"))
		}
		return nil
	})
	err := e.fs.Rename(ctx, RootIno, "src", RootIno, "dst")
	wantErrno(t, err, syscall.EIO)
	if string(e.mustObject("dst")) != "theirs" || string(e.mustObject("src")) != "mine" {
		t.Fatalf("after a refused rename: dst %q src %q", e.mustObject("dst"), e.mustObject("src"))
	}
}

func TestRenameCrashBetweenCopyAndDeleteLeavesBoth(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("src", []byte("x"))
	e.fault.Inject(func(op, key string) error {
		if op == "Delete" {
			return errors.New("injected: the mount died here")
		}
		return nil
	})
	wantErrno(t, e.fs.Rename(ctx, RootIno, "src", RootIno, "dst"), syscall.EIO)
	if string(e.mustObject("src")) != "x" || string(e.mustObject("dst")) != "x" {
		t.Fatal("a failed delete lost a name")
	}
}

func TestRenameDirectoryMovesEveryKey(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	for _, k := range []string{"dir/", "dir/a", "dir/sub/b", "dir/sub/c/d", "dirx"} {
		e.store.PutObject(k, []byte(k))
	}
	e.mustResolve("dir/sub/b") // known inodes under it follow the move
	if err := e.fs.Rename(ctx, RootIno, "dir", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	want := []string{"dirx", "moved/", "moved/a", "moved/sub/b", "moved/sub/c/d"}
	if got := e.store.Keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if got := string(e.mustObject("moved/sub/c/d")); got != "dir/sub/c/d" {
		t.Fatalf("content %q", got)
	}
	if got, err := e.readAll("moved/sub/b"); err != nil || string(got) != "dir/sub/b" {
		t.Fatalf("read through the moved directory: %q %v", got, err)
	}
}

func TestRenameDirectoryAboveTheBoundIsEXDEV(t *testing.T) {
	e := posixEnv(t, 5<<20, func(c *Config) { c.MaxRenameKeys = 3 })
	for i := 0; i < 4; i++ {
		e.store.PutObject(fmt.Sprintf("d/%d", i), nil)
	}
	wantErrno(t, e.fs.Rename(ctx, RootIno, "d", RootIno, "e"), syscall.EXDEV)
	if keys := e.store.Keys(); len(keys) != 4 || !strings.HasPrefix(keys[0], "d/") {
		t.Fatalf("keys %v", keys)
	}
}

func TestRenameDirectoryFailureUndoesItsCopies(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	for i := 0; i < 20; i++ {
		e.store.PutObject(fmt.Sprintf("d/%02d", i), []byte("x"))
	}
	e.fault.Inject(func(op, key string) error {
		if op == "Put" && key == "e/13" {
			return errors.New("injected")
		}
		return nil
	})
	wantErrno(t, e.fs.Rename(ctx, RootIno, "d", RootIno, "e"), syscall.EIO)
	e.fault.Clear()
	for _, k := range e.store.Keys() {
		if !strings.HasPrefix(k, "d/") {
			t.Fatalf("a failed directory rename left %q", k)
		}
	}
	if len(e.store.Keys()) != 20 {
		t.Fatalf("%d keys", len(e.store.Keys()))
	}
}

func TestRenameOfAFileBeingWritten(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	// rsync and editors: write a temporary file, then rename it over the real one.
	e.store.PutObject("file", []byte("old"))
	_, h, err := e.fs.Create(ctx, RootIno, ".file.tmp", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	e.pwrite(h, []byte("new"), 0)
	if err := e.fs.Rename(ctx, RootIno, ".file.tmp", RootIno, "file"); err != nil {
		t.Fatal(err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("file")); got != "new" || len(e.store.Keys()) != 1 {
		t.Fatalf("after rename of an open new file: %q %v", got, e.store.Keys())
	}
	// An existing file open for editing moves with its edit.
	h = e.open("file", syscall.O_RDWR)
	e.pwrite(h, []byte("N"), 0)
	if err := e.fs.Rename(ctx, RootIno, "file", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("moved")); got != "New" || len(e.store.Keys()) != 1 {
		t.Fatalf("after rename of an edited file: %q %v", got, e.store.Keys())
	}
}

func TestRenameNeedsTheFlag(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowDelete = true })
	e.store.PutObject("f", nil)
	wantErrno(t, e.fs.Rename(ctx, RootIno, "f", RootIno, "g"), syscall.ENOSYS)
}
