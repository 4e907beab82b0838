package fs

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

// writeSeq writes data through h in 1 MiB writes from offset 0.
func (e *env) writeSeq(h *Handle, data []byte) {
	e.t.Helper()
	for off := 0; off < len(data); off += 1 << 20 {
		e.pwrite(h, data[off:min(off+1<<20, len(data))], int64(off))
	}
}

// A new file written in order uploads its parts while it is written; close
// sends only the tail.
func TestSequentialWritesUploadBehindTheWriter(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	data := pattern(17 << 20)
	_, h, err := e.fs.Create(ctx, RootIno, "out.bin", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	e.writeSeq(h, data)
	e.settleUploads(3)
	if e.store.PendingUploads() != 1 {
		t.Fatalf("%d uploads in progress while writing, want 1", e.store.PendingUploads())
	}
	if _, ok := e.store.Object("out.bin"); ok {
		t.Fatal("the object is visible before close")
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.mustObject("out.bin"), data) || e.store.PendingUploads() != 0 {
		t.Fatalf("after close: %d pending uploads", e.store.PendingUploads())
	}
	if n := e.store.Count("UploadPart"); n != 4 { // 3 × 5 MiB behind, 2 MiB at close
		t.Fatalf("%d parts uploaded, want 4", n)
	}
}

// settleUploads waits until the store has received n parts.
func (e *env) settleUploads(n int) {
	e.t.Helper()
	for i := 0; i < 5000 && e.store.Count("UploadPart") < n; i++ {
		sleepMs(1)
	}
	if got := e.store.Count("UploadPart"); got < n {
		e.t.Fatalf("%d parts uploaded behind the writer, want %d", got, n)
	}
}

func TestASeekBackAbandonsTheUploadBehind(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	data := pattern(12 << 20)
	_, h, _ := e.fs.Create(ctx, RootIno, "zip.bin", syscall.O_WRONLY|syscall.O_CREAT, 7)
	e.writeSeq(h, data)
	e.settleUploads(2)
	copy(data[100:], "HEADER")
	e.pwrite(h, []byte("HEADER"), 100) // zip rewrites its local header
	if e.store.PendingUploads() != 0 {
		t.Fatalf("%d uploads left after the write out of order", e.store.PendingUploads())
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.mustObject("zip.bin"), data) || e.store.PendingUploads() != 0 {
		t.Fatal("object differs after a seek back")
	}
}

func TestAttributesSetWhileUploadingBehindAreKept(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	data := pattern(11 << 20)
	_, h, _ := e.fs.CreateAs(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 0o644, alice)
	e.writeSeq(h, data)
	mode := uint32(0o600)
	if _, err := e.fs.Setattr(ctx, h.Ino(), SetattrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	md, _ := e.store.Metadata("f")
	if md["mode"] != "33152" || !bytes.Equal(e.mustObject("f"), data) {
		t.Fatalf("metadata %v", md)
	}
}

func TestAConflictingCreatorStillGetsItsBytesKept(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	data := pattern(12 << 20)
	_, h, _ := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	e.writeSeq(h, data)
	e.store.PutObject("f", []byte("theirs"))
	wantErrno(t, e.closeFile(h), syscall.EIO)
	if string(e.mustObject("f")) != "theirs" || e.store.PendingUploads() != 0 {
		t.Fatalf("after the conflict: %q, %d uploads", e.mustObject("f"), e.store.PendingUploads())
	}
	if c := e.conflictKeys("f"); len(c) != 1 || !bytes.Equal(e.mustObject(c[0]), data) {
		t.Fatalf("conflict objects %v", c)
	}
}

func TestUnmountAbortsTheUploadBehind(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	_, h, _ := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	e.writeSeq(h, pattern(12<<20))
	e.settleUploads(2)
	e.fs.Shutdown()
	e.fs.Release(ctx, h)
	if _, ok := e.store.Object("f"); ok || e.store.PendingUploads() != 0 {
		t.Fatalf("after unmount: object %v, %d uploads", ok, e.store.PendingUploads())
	}
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }
