package fs

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// time50ms is half the test configuration's file TTL.
const time50ms = 50 * time.Millisecond

// posixEnv is an env whose mount runs in POSIX mode, staging in a
// temporary directory, with S3's minimum part size lowered to minPart (on
// the store too) so multipart commits can be tested with small objects.
func posixEnv(t *testing.T, minPart int64, mod func(*Config)) *env {
	t.Helper()
	dir, err := stage.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Remove() })
	e := newEnv(t, func(c *Config) {
		c.AllowEdit, c.AllowRename, c.Posix, c.AllowDelete, c.AllowOverwrite = true, true, true, true, true
		c.Stage = dir
		c.Hostname = "node-a"
		if mod != nil {
			mod(c)
		}
	})
	e.store.SetMinPartSize(minPart)
	e.fs.minPart = minPart
	return e
}

// sent counts the body bytes of PUTs and parts a client sends.
type sent struct {
	objstore.Client
	mu    sync.Mutex
	bytes int64
}

func (s *sent) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	s.add(len(in.Body))
	return s.Client.Put(ctx, in)
}

func (s *sent) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	s.add(len(in.Body))
	return s.Client.UploadPart(ctx, in)
}

func (s *sent) add(n int) { s.mu.Lock(); s.bytes += int64(n); s.mu.Unlock() }
func (s *sent) total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// countSent makes e's file system send through a byte counter.
func (e *env) countSent() *sent {
	s := &sent{Client: e.fs.client}
	e.fs.client = s
	return s
}

// open opens path with flags as caller pid 7.
func (e *env) open(path string, flags uint32) *Handle {
	e.t.Helper()
	h, err := e.fs.Open(ctx, e.mustResolve(path).Ino, flags, 7)
	if err != nil {
		e.t.Fatalf("open %q: %v", path, err)
	}
	return h
}

// closeFile is close(): Flush, then Release; the error is Flush's.
func (e *env) closeFile(h *Handle) error {
	e.t.Helper()
	err := e.fs.Flush(ctx, h, 7)
	if rerr := e.fs.Release(ctx, h); err == nil {
		err = rerr
	}
	return err
}

func (e *env) mustObject(key string) []byte {
	e.t.Helper()
	b, ok := e.store.Object(key)
	if !ok {
		e.t.Fatalf("object %q is missing", key)
	}
	return b
}

func (e *env) pwrite(h *Handle, data []byte, off int64) {
	e.t.Helper()
	if n, err := e.fs.Write(ctx, h, data, off); err != nil || n != len(data) {
		e.t.Fatalf("write %d bytes at %d: %d, %v", len(data), off, n, err)
	}
}

func TestAppendCommitsAtClose(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("log.txt", []byte("one\n"))
	for _, line := range []string{"two\n", "three\n"} {
		h := e.open("log.txt", syscall.O_WRONLY|syscall.O_APPEND)
		e.pwrite(h, []byte(line), 0) // O_APPEND: the offset is ignored
		if err := e.closeFile(h); err != nil {
			t.Fatal(err)
		}
		e.clock.add(time50ms)
	}
	if got := string(e.mustObject("log.txt")); got != "one\ntwo\nthree\n" {
		t.Fatalf("object = %q", got)
	}
}

func TestEditInPlaceReadsItsOwnWrites(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("hello world"))
	h := e.open("f", syscall.O_RDWR)
	e.pwrite(h, []byte("HELLO"), 0)
	buf := make([]byte, 64)
	n, err := e.fs.Read(ctx, h, buf, 0)
	if err != nil || string(buf[:n]) != "HELLO world" {
		t.Fatalf("read after write: %q, %v", buf[:n], err)
	}
	// Another open in this mount reads the edit too.
	r := e.open("f", syscall.O_RDONLY)
	n, _ = e.fs.Read(ctx, r, buf, 6)
	if string(buf[:n]) != "world" {
		t.Fatalf("second handle read %q", buf[:n])
	}
	if got := string(e.mustObject("f")); got != "hello world" {
		t.Fatalf("the object changed before close: %q", got)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, r)
	if got := string(e.mustObject("f")); got != "HELLO world" {
		t.Fatalf("object after close = %q", got)
	}
}

func TestNothingWrittenCommitsNothing(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("data"))
	before, _ := e.store.Head(ctx, "f")
	e.store.ResetCounts()
	h := e.open("f", syscall.O_RDWR)
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	after, _ := e.store.Head(ctx, "f")
	if after.ETag != before.ETag || e.store.Count("Put")+e.store.Count("CreateMultipartUpload")+e.store.Count("CopyObject") != 0 {
		t.Fatalf("an open and close without writes changed the object (puts %d)", e.store.Count("Put"))
	}
}

func TestTruncateShrinksAndExtendsWithZeros(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("0123456789"))
	a := e.mustResolve("f")
	size := int64(4)
	if _, err := e.fs.Setattr(ctx, a.Ino, SetattrIn{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("f")); got != "0123" {
		t.Fatalf("truncate(4) of a closed file: %q", got)
	}
	h := e.open("f", syscall.O_RDWR)
	size = 8
	if _, err := e.fs.Setattr(ctx, a.Ino, SetattrIn{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if got := e.mustObject("f"); !bytes.Equal(got, []byte("0123\x00\x00\x00\x00")) {
		t.Fatalf("ftruncate(8): %q", got)
	}
	// O_TRUNC of an existing file fetches nothing of it.
	e.store.ResetCounts()
	h = e.open("f", syscall.O_WRONLY|syscall.O_TRUNC)
	e.pwrite(h, []byte("new"), 0)
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("f")); got != "new" || e.store.Count("Get") != 0 {
		t.Fatalf("O_TRUNC rewrite: %q after %d GETs", got, e.store.Count("Get"))
	}
}

// TestRandomPwritesMatchAModel edits a 24 MiB object at random (writes,
// truncations, appends) and compares the committed object with a local
// model; the unchanged ranges are copied on the server.
func TestRandomPwritesMatchAModel(t *testing.T) {
	const minPart = 1 << 20
	e := posixEnv(t, minPart, nil)
	model := pattern(24 << 20)
	e.store.PutObject("big", model)
	s := e.countSent()
	r := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 3; round++ {
		h := e.open("big", syscall.O_RDWR)
		for i := 0; i < 20; i++ {
			off := r.Int64N(int64(len(model)) + 1000)
			p := bytes.Repeat([]byte{byte(round*20 + i + 1)}, 1+r.IntN(5000))
			e.pwrite(h, p, off)
			if end := off + int64(len(p)); end > int64(len(model)) {
				model = append(model, make([]byte, end-int64(len(model)))...)
			}
			copy(model[off:], p)
		}
		if round == 1 {
			size := int64(len(model) - 3<<20)
			if _, err := e.fs.Setattr(ctx, h.Ino(), SetattrIn{Size: &size}); err != nil {
				t.Fatal(err)
			}
			model = model[:size]
		}
		if err := e.closeFile(h); err != nil {
			t.Fatal(err)
		}
		if got := e.mustObject("big"); !bytes.Equal(got, model) {
			t.Fatalf("round %d: object differs from the model (%d vs %d bytes)", round, len(got), len(model))
		}
		e.clock.add(time50ms)
	}
	if e.store.Count("UploadPartCopy") == 0 {
		t.Fatal("no range was copied on the server")
	}
	if limit := int64(3 * 20 * 3 * minPart); s.total() > limit {
		t.Fatalf("sent %d bytes for 60 small writes, more than %d", s.total(), limit)
	}
	if e.store.PendingUploads() != 0 {
		t.Fatalf("%d multipart uploads left", e.store.PendingUploads())
	}
}

func TestAppendToALargeObjectSendsOnlyTheAppend(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("big", pattern(40<<20))
	e.mustResolve("big")
	s := e.countSent()
	e.store.ResetCounts()
	h := e.open("big", syscall.O_WRONLY|syscall.O_APPEND)
	e.pwrite(h, bytes.Repeat([]byte("x"), 1024), 0)
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	want := append(pattern(40<<20), bytes.Repeat([]byte("x"), 1024)...)
	if !bytes.Equal(e.mustObject("big"), want) {
		t.Fatal("appended object differs")
	}
	if s.total() != 1024 || e.store.Count("Get") != 0 {
		t.Fatalf("an append of 1 KiB to 40 MiB sent %d bytes and %d GETs", s.total(), e.store.Count("Get"))
	}
}

func TestAnotherWritersVersionIsNeverOverwritten(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("original"))
	h := e.open("f", syscall.O_RDWR)
	e.pwrite(h, []byte("MINE"), 0)
	e.store.PutObject("f", []byte("theirs")) // another client, between open and close
	err := e.closeFile(h)
	wantErrno(t, err, syscall.EIO)
	if got := string(e.mustObject("f")); got != "theirs" {
		t.Fatalf("the other writer's version was overwritten: %q", got)
	}
	conflicts := e.conflictKeys("f")
	if len(conflicts) != 1 || string(e.mustObject(conflicts[0])) != "MINEinal" {
		t.Fatalf("conflict objects %v", conflicts)
	}
	if !strings.Contains(conflicts[0], ".conflict-node-a-2023") {
		t.Fatalf("conflict name %q does not say host and time", conflicts[0])
	}
	// The next open starts from the other writer's version.
	e.clock.add(time50ms)
	if got, _ := e.readAll("f"); string(got) != "theirs" {
		t.Fatalf("reopen reads %q", got)
	}
}

func TestCreatedFileConflictsWithAnotherCreator(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	_, h, err := e.fs.CreateAs(ctx, RootIno, "new", syscall.O_WRONLY|syscall.O_CREAT, 0o640, Caller{Pid: 7, UID: 5, GID: 6})
	if err != nil {
		t.Fatal(err)
	}
	e.pwrite(h, []byte("ours"), 0)
	e.store.PutObject("new", []byte("theirs"))
	wantErrno(t, e.closeFile(h), syscall.EIO)
	if got := string(e.mustObject("new")); got != "theirs" {
		t.Fatalf("object = %q", got)
	}
	if c := e.conflictKeys("new"); len(c) != 1 || string(e.mustObject(c[0])) != "ours" {
		t.Fatalf("conflicts %v", c)
	}
}

func TestConflictOnALargeObjectWhoseBaseIsGoneKeepsTheBytesLocally(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("big", pattern(30<<20))
	h := e.open("big", syscall.O_RDWR)
	e.pwrite(h, []byte("EDIT"), 12<<20)
	e.store.PutObject("big", []byte("replaced"))
	wantErrno(t, e.closeFile(h), syscall.EIO)
	if got := string(e.mustObject("big")); got != "replaced" {
		t.Fatalf("object = %q", got)
	}
	dir := filepath.Join(filepath.Dir(e.fs.cfg.Stage.Root()), "bucketfs-conflicts")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("local conflict copy: %v, %v", ents, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ents[0].Name()))
	if string(b[12<<20:12<<20+4]) != "EDIT" {
		t.Fatal("the local conflict copy does not hold the edit")
	}
}

func TestFailedCommitLeavesTheObjectAndNoUpload(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("big", pattern(20<<20))
	before := e.mustObject("big")
	h := e.open("big", syscall.O_RDWR)
	e.pwrite(h, []byte("x"), 10<<20)
	e.fault.Inject(func(op, key string) error {
		if op == "CompleteMultipartUpload" {
			return errors.New("injected: connection reset")
		}
		return nil
	})
	wantErrno(t, e.closeFile(h), syscall.EIO)
	e.fault.Clear()
	if !bytes.Equal(e.mustObject("big"), before) || e.store.PendingUploads() != 0 || len(e.conflictKeys("big")) != 0 {
		t.Fatalf("a failed commit changed something (pending uploads %d)", e.store.PendingUploads())
	}
}

func TestKilledWriterChangesAreDropped(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("kept"))
	h, err := e.fs.Open(ctx, e.mustResolve("f").Ino, syscall.O_RDWR, killedPid)
	if err != nil {
		t.Fatal(err)
	}
	e.pwrite(h, []byte("half-written"), 0)
	e.fs.Flush(ctx, h, killedPid)
	e.fs.Release(ctx, h)
	if got := string(e.mustObject("f")); got != "kept" {
		t.Fatalf("a killed writer's changes were committed: %q", got)
	}
}

func TestUnmountDropsOpenEdits(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("kept"))
	h := e.open("f", syscall.O_RDWR)
	e.pwrite(h, []byte("lost"), 0)
	e.fs.Shutdown()
	e.fs.Release(ctx, h)
	if got := string(e.mustObject("f")); got != "kept" {
		t.Fatalf("object = %q", got)
	}
	if used := e.fs.cfg.Stage.Used(); used != 0 {
		t.Fatalf("%d staged bytes left", used)
	}
}

func TestUnlinkOfAnOpenFileDropsItsCommits(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("tmp", []byte("x"))
	h := e.open("tmp", syscall.O_RDWR)
	if err := e.fs.Unlink(ctx, RootIno, "tmp"); err != nil {
		t.Fatal(err)
	}
	e.pwrite(h, []byte("still usable"), 0)
	buf := make([]byte, 20)
	if n, err := e.fs.Read(ctx, h, buf, 0); err != nil || string(buf[:n]) != "still usable" {
		t.Fatalf("read of the unlinked file: %q %v", buf[:n], err)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("tmp"); ok {
		t.Fatal("an unlinked file came back at close")
	}
}

func TestStagingCapIsENOSPC(t *testing.T) {
	dir, _ := stage.Open(t.TempDir(), 1<<20)
	defer dir.Remove()
	e := posixEnv(t, 5<<20, func(c *Config) { c.Stage = dir })
	_, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	e.pwrite(h, make([]byte, 1<<20), 0)
	_, err = e.fs.Write(ctx, h, []byte("x"), 1<<20)
	wantErrno(t, err, syscall.ENOSPC)
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if b := e.mustObject("f"); len(b) != 1<<20 {
		t.Fatalf("object of %d bytes", len(b))
	}
}

// conflictKeys lists the conflict objects of key.
func (e *env) conflictKeys(key string) []string {
	var out []string
	for _, k := range e.store.Keys() {
		if strings.HasPrefix(k, key+".conflict-") {
			out = append(out, k)
		}
	}
	return out
}

// A fork()ed child closing the descriptor it inherited commits nothing; the
// opener's close does. A new file nothing was written to yet is committed
// at its last close (touch), not by a close of a duplicate.
func TestCloseByAnotherProcessCommitsNothing(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("f", []byte("v1"))
	h := e.open("f", syscall.O_RDWR)
	e.pwrite(h, []byte("V2"), 0)
	if err := e.fs.Flush(ctx, h, 8); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("f")); got != "v1" {
		t.Fatalf("a child's close committed: %q", got)
	}
	if err := e.closeFile(h); err != nil {
		t.Fatal(err)
	}
	if got := string(e.mustObject("f")); got != "V2" {
		t.Fatalf("the opener's close did not commit: %q", got)
	}
	_, h, err := e.fs.Create(ctx, RootIno, "touched", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("touched"); ok {
		t.Fatal("a close of a new, empty file's duplicate created the object")
	}
	if err := e.fs.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	if got, ok := e.store.Object("touched"); !ok || len(got) != 0 {
		t.Fatalf("touch did not make an empty object: %q %v", got, ok)
	}
}

// A server-side copy of the unchanged ranges that fails: EIO, the object as
// it was, no upload left, and no conflict object (nothing conflicted).
func TestFailedCopyOfUnchangedRangesIsEIO(t *testing.T) {
	e := posixEnv(t, 5<<20, nil)
	e.store.PutObject("big", pattern(30<<20))
	h := e.open("big", syscall.O_WRONLY|syscall.O_APPEND)
	e.pwrite(h, []byte("tail"), 0)
	e.fault.Inject(func(op, key string) error {
		if op == "UploadPartCopy" {
			return errors.New("injected: 500 InternalError")
		}
		return nil
	})
	wantErrno(t, e.closeFile(h), syscall.EIO)
	e.fault.Clear()
	if !bytes.Equal(e.mustObject("big"), pattern(30<<20)) || e.store.PendingUploads() != 0 || len(e.conflictKeys("big")) != 0 {
		t.Fatalf("after a failed copy: %d uploads, conflicts %v", e.store.PendingUploads(), e.conflictKeys("big"))
	}
}
