package fs

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestSequentialAndRandomReads(t *testing.T) {
	e := newEnv(t, nil)
	data := pattern(3<<20 + 17)
	e.store.PutObject("big.bin", data)
	got, err := e.readAll("big.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sequential read: %d bytes, err %v", len(got), err)
	}
	a := e.mustResolve("big.bin")
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.fs.Release(ctx, h)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		off := rng.Int63n(int64(len(data)) + 10)
		buf := make([]byte, rng.Intn(300_000)+1)
		n, err := e.fs.Read(ctx, h, buf, off)
		if err != nil {
			t.Fatal(err)
		}
		want := data[min(off, int64(len(data))):min(off+int64(len(buf)), int64(len(data)))]
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("read %d@%d: got %d bytes, want %d (content differs: %v)", len(buf), off, n, len(want), n == len(want))
		}
	}
}

func TestConcurrentReaders(t *testing.T) {
	e := newEnv(t, nil)
	data := pattern(1 << 20)
	e.store.PutObject("f", data)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			got, err := e.readAll("f")
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("wrong bytes")
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadNeverMixesVersions(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("f", pattern(20<<20))
	a := e.mustResolve("f")
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.fs.Release(ctx, h)
	buf := make([]byte, 4096)
	if _, err := e.fs.Read(ctx, h, buf, 0); err != nil {
		t.Fatal(err)
	}
	e.store.PutObject("f", bytes.Repeat([]byte{1}, 20<<20)) // another client replaces it
	// The open stream keeps serving the version it started with...
	if _, err := e.fs.Read(ctx, h, buf, 4096); err != nil || !bytes.Equal(buf, pattern(20 << 20)[4096:8192]) {
		t.Fatalf("read from the open stream: %v", err)
	}
	// ...and a new GET (a seek far ahead) is pinned to the old ETag: ESTALE, not new bytes.
	_, err = e.fs.Read(ctx, h, buf, 15<<20)
	wantErrno(t, err, syscall.ESTALE)
	// Every later read fails too, even one the stream could serve.
	_, err = e.fs.Read(ctx, h, buf, 4096)
	wantErrno(t, err, syscall.ESTALE)
	e.store.Delete(ctx, "f")
	_, err = e.fs.Read(ctx, h, buf, 100)
	wantErrno(t, err, syscall.ESTALE)
}

func TestShortOrWrongGETIsAnError(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("f", pattern(3<<20))
	e.fault.InjectRead(func(key string, offset int64) error {
		if offset >= 1<<20 { // the second GET fails mid-body
			return errors.New("connection reset")
		}
		return nil
	})
	_, err := e.readAll("f")
	wantErrno(t, err, syscall.EIO)
}

func TestWriteNewFileVisibleAtClose(t *testing.T) {
	e := newEnv(t, nil)
	data := pattern(12<<20 + 5) // three parts: multipart upload
	_, h, err := e.fs.Create(ctx, RootIno, "out.bin", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 20 {
		end := min(off+1<<20, len(data))
		if _, err := e.fs.Write(ctx, h, data[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.store.Object("out.bin"); ok {
			t.Fatal("object visible before close")
		}
	}
	a := e.mustResolve("out.bin")
	if a.Size != int64(len(data)) {
		t.Fatalf("size while writing = %d", a.Size)
	}
	_, err = e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 8)
	wantErrno(t, err, syscall.EPERM) // no reading while it is being written
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	got, ok := e.store.Object("out.bin")
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("object after close: %d bytes, present %v", len(got), ok)
	}
	if e.store.Count("CompleteMultipartUpload") != 1 {
		t.Fatal("a 12 MiB file was not a multipart upload")
	}
	e.fs.Release(ctx, h)
	if back, err := e.readAll("out.bin"); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("read back: %v", err)
	}
	_, err = e.fs.Write(ctx, h, []byte("more"), int64(len(data)))
	wantErrno(t, err, syscall.EBADF)
}

func TestSmallFileIsOnePut(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.writeFile("", "small", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Object("small"); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	if e.store.Count("Put") != 1 || e.store.Count("CreateMultipartUpload") != 0 {
		t.Fatalf("puts %d, multipart %d", e.store.Count("Put"), e.store.Count("CreateMultipartUpload"))
	}
}

func TestEmptyFileBecomesZeroByteObject(t *testing.T) {
	// touch: open(O_CREAT), close. The close with nothing written defers
	// the upload to the release.
	e := newEnv(t, nil)
	_, h, err := e.fs.Create(ctx, RootIno, "empty", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, ok := e.store.Object("empty")
	if !ok || len(got) != 0 {
		t.Fatalf("empty object: present %v, %d bytes", ok, len(got))
	}
}

func TestCloseOfDuplicateBeforeWriteDefersUpload(t *testing.T) {
	// Shell redirection `echo hi > f`: open, dup2, close the original
	// (flush with nothing written), write through the duplicate, exit.
	e := newEnv(t, nil)
	_, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Write(ctx, h, []byte("hi\n"), 0); err != nil {
		t.Fatal(err)
	}
	// A forked child closing its inherited descriptor does not complete it either.
	if err := e.fs.Flush(ctx, h, 99); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("f"); ok {
		t.Fatal("uploaded at a close by another process")
	}
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Object("f"); string(got) != "hi\n" {
		t.Fatalf("got %q", got)
	}
	e.fs.Release(ctx, h)
}

func TestOpenAfterDeferredCloseCompletesUpload(t *testing.T) {
	e := newEnv(t, nil)
	a, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Write(ctx, h, []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, h, 99); err != nil { // deferred: another process
		t.Fatal(err)
	}
	r, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 8)
	if err != nil {
		t.Fatalf("open after deferred close: %v", err)
	}
	if got, ok := e.store.Object("f"); !ok || string(got) != "abc" {
		t.Fatal("the open did not complete the deferred upload")
	}
	buf := make([]byte, 10)
	n, err := e.fs.Read(ctx, r, buf, 0)
	if err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	e.fs.Release(ctx, r)
	e.fs.Release(ctx, h)
	if e.store.Count("Put") != 1 {
		t.Fatalf("%d PUTs, want 1", e.store.Count("Put"))
	}
}

func TestOutOfOrderWriteFailsAndLeavesNothing(t *testing.T) {
	e := newEnv(t, nil)
	_, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		t.Fatal(err)
	}
	big := pattern(6 << 20) // past one part: a multipart upload has started
	if _, err := e.fs.Write(ctx, h, big, 0); err != nil {
		t.Fatal(err)
	}
	_, err = e.fs.Write(ctx, h, []byte("x"), 100)
	wantErrno(t, err, syscall.EINVAL)
	wantErrno(t, e.fs.Flush(ctx, h, 7), syscall.EIO)
	e.fs.Release(ctx, h)
	if keys := e.store.Keys(); len(keys) != 0 {
		t.Fatalf("objects after failed write: %v", keys)
	}
	if e.store.PendingUploads() != 0 {
		t.Fatal("multipart upload not aborted")
	}
	_, err = e.resolve("f")
	wantErrno(t, err, syscall.ENOENT)
}

func TestFailedUploadIsEIOAndNoObject(t *testing.T) {
	for _, op := range []string{"Put", "UploadPart", "CompleteMultipartUpload"} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t, nil)
			e.fault.Inject(func(o, key string) error {
				if o == op {
					return errors.New("injected failure")
				}
				return nil
			})
			size := 100
			if op != "Put" {
				size = 11 << 20
			}
			_, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
			if err != nil {
				t.Fatal(err)
			}
			_, werr := e.fs.Write(ctx, h, pattern(size), 0)
			ferr := e.fs.Flush(ctx, h, 7)
			if werr == nil {
				wantErrno(t, ferr, syscall.EIO)
			} else {
				wantErrno(t, werr, syscall.EIO)
			}
			wantErrno(t, e.fs.Fsync(ctx, h), syscall.EIO)
			e.fs.Release(ctx, h)
			if keys := e.store.Keys(); len(keys) != 0 {
				t.Fatalf("objects: %v", keys)
			}
			if e.store.PendingUploads() != 0 {
				t.Fatal("multipart upload left behind")
			}
		})
	}
}

func TestFsyncCompletesUpload(t *testing.T) {
	e := newEnv(t, nil)
	_, h, _ := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 7)
	e.fs.Write(ctx, h, []byte("data"), 0)
	if err := e.fs.Fsync(ctx, h); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Object("f"); string(got) != "data" {
		t.Fatalf("after fsync: %q", got)
	}
	_, err := e.fs.Write(ctx, h, []byte("more"), 4)
	wantErrno(t, err, syscall.EBADF)
	if err := e.fs.Flush(ctx, h, 7); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, h)
}

func TestExistingFiles(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("f", []byte("old"))
	a := e.mustResolve("f")
	for _, flags := range []uint32{syscall.O_WRONLY, syscall.O_WRONLY | syscall.O_TRUNC, syscall.O_WRONLY | syscall.O_APPEND} {
		_, err := e.fs.Open(ctx, a.Ino, flags, 1)
		wantErrno(t, err, syscall.EPERM)
	}
	_, _, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 1)
	wantErrno(t, err, syscall.EEXIST)
	// O_RDWR without O_TRUNC opens for reading.
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDWR, 1)
	if err != nil || h.IsWriter() {
		t.Fatalf("O_RDWR: %v writer=%v", err, h != nil && h.IsWriter())
	}
	e.fs.Release(ctx, h)
	if got, _ := e.store.Object("f"); string(got) != "old" {
		t.Fatal("object changed")
	}
}

func TestOverwriteWithTrunc(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	e.store.PutObject("f", []byte("old contents"))
	a := e.mustResolve("f")
	_, err := e.fs.Open(ctx, a.Ino, syscall.O_WRONLY, 1)
	wantErrno(t, err, syscall.EPERM) // no O_TRUNC
	_, err = e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_APPEND, 1)
	wantErrno(t, err, syscall.EPERM)
	r, _ := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
	_, err = e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	wantErrno(t, err, syscall.EPERM) // open for reading
	e.fs.Release(ctx, r)
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Object("f"); string(got) != "old contents" {
		t.Fatal("old object gone before the new one is complete")
	}
	e.fs.Write(ctx, h, []byte("new"), 0)
	if err := e.fs.Flush(ctx, h, 1); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, h)
	if got, _ := e.store.Object("f"); string(got) != "new" {
		t.Fatalf("got %q", got)
	}
	if back, err := e.readAll("f"); err != nil || string(back) != "new" {
		t.Fatalf("read back %q, %v", back, err)
	}
}

func TestOneWriterAtATime(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	a, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.fs.Write(ctx, h, []byte("x"), 0)
	_, err = e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	wantErrno(t, err, syscall.EPERM)
	_, _, err = e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 1)
	wantErrno(t, err, syscall.EEXIST)
	wantErrno(t, e.fs.Unlink(ctx, RootIno, "f"), syscall.EPERM)
	e.fs.Release(ctx, h)
}

func TestShutdownAbortsOpenUploads(t *testing.T) {
	e := newEnv(t, nil)
	_, h, _ := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, 1)
	if _, err := e.fs.Write(ctx, h, pattern(7<<20), 0); err != nil {
		t.Fatal(err)
	}
	if e.store.Count("CreateMultipartUpload") != 1 {
		t.Fatal("no multipart upload started before the shutdown")
	}
	e.fs.Shutdown()
	if e.store.Count("AbortMultipartUpload") != 1 {
		t.Fatal("the multipart upload was not aborted")
	}
	if e.store.PendingUploads() != 0 || len(e.store.Keys()) != 0 {
		t.Fatalf("pending %d, keys %v", e.store.PendingUploads(), e.store.Keys())
	}
	wantErrno(t, e.fs.Flush(ctx, h, 1), syscall.EIO)
}

func TestSyncFlagsRefused(t *testing.T) {
	e := newEnv(t, nil)
	_, _, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_SYNC, 1)
	wantErrno(t, err, syscall.EINVAL)
	_, _, err = e.fs.Create(ctx, RootIno, "g", syscall.O_WRONLY|syscall.O_DSYNC, 1)
	wantErrno(t, err, syscall.EINVAL)
	e = newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	e.store.PutObject("f", []byte("x"))
	_, err = e.fs.Open(ctx, e.mustResolve("f").Ino, syscall.O_WRONLY|syscall.O_TRUNC|syscall.O_DSYNC, 1)
	wantErrno(t, err, syscall.EINVAL)
	if got, _ := e.store.Object("f"); string(got) != "x" {
		t.Fatal("the object changed")
	}
}

// An open after the TTL pins the current version with one stat: a GET that
// brings a small file whole (so the read needs no request), or a HEAD when
// lookups send HEADs (SmallFileMax < 0) or the file is larger.
func TestOpenAfterTTLPinsTheNewVersionWithOneStat(t *testing.T) {
	for _, tc := range []struct {
		name         string
		smallFileMax int64
		newer        string
		statOp       string
		readGets     int // GETs the read sends
	}{
		{"small file, GET stat", 0, "newer", "Get", 0},
		{"larger file, GET stat", 4, "newer", "Get", 1},
		{"HEAD stat", -1, "newer", "Head", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.SmallFileMax = tc.smallFileMax })
			e.store.PutObject("f", []byte("old"))
			a := e.mustResolve("f")
			e.store.PutObject("f", []byte(tc.newer))
			e.clock.add(150 * time.Millisecond) // past the file TTL
			count := func() (stats, lists, gets int) {
				return e.store.Count(tc.statOp), e.store.Count("List"), e.store.Count("Get")
			}
			stats, lists, _ := count()
			h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer e.fs.Release(ctx, h)
			s2, l2, gets := count()
			if s2 != stats+1 || l2 != lists || e.store.Count("Head")+e.store.Count("Get") != s2 {
				t.Fatalf("open after the TTL: %d %s, %d LISTs, %d HEAD+GET; want 1, 0 and 1 in all",
					s2-stats, tc.statOp, l2-lists, e.store.Count("Head")+e.store.Count("Get"))
			}
			buf := make([]byte, 10)
			n, err := e.fs.Read(ctx, h, buf, 0)
			if err != nil || string(buf[:n]) != tc.newer {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			if _, _, g := count(); g-gets != tc.readGets {
				t.Errorf("the read sent %d GETs, want %d", g-gets, tc.readGets)
			}
			if g, _ := e.fs.Getattr(ctx, a.Ino); g.Size != int64(len(tc.newer)) {
				t.Fatalf("stat after open: size %d", g.Size)
			}
			// Within the TTL, open asks nothing.
			stats, _, _ = count()
			h2, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
			if err != nil {
				t.Fatal(err)
			}
			e.fs.Release(ctx, h2)
			if s, _, _ := count(); s != stats {
				t.Fatal("open within the TTL asked S3")
			}
			e.store.Delete(ctx, "f")
			e.clock.add(150 * time.Millisecond)
			_, err = e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
			wantErrno(t, err, syscall.ENOENT)
		})
	}
}

func TestKernelCacheKeptOnlyForTheSameVersion(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	e.store.PutObject("f", []byte("v1"))
	a := e.mustResolve("f")
	open := func() bool {
		t.Helper()
		h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
		if err != nil {
			t.Fatal(err)
		}
		e.fs.Release(ctx, h)
		return h.KeepCache
	}
	if open() {
		t.Fatal("first open kept a cache it never filled")
	}
	if !open() {
		t.Fatal("second open of the same version dropped the cache")
	}
	e.store.PutObject("f", []byte("v2 from another client"))
	e.clock.add(150 * time.Millisecond)
	if open() {
		t.Fatal("open of a changed object kept the old pages")
	}
	if !open() {
		t.Fatal("same new version: cache not kept")
	}
	w, err := e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.fs.Write(ctx, w, []byte("v3"), 0)
	if err := e.fs.Flush(ctx, w, 1); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, w)
	if open() {
		t.Fatal("open after an overwrite kept the old pages")
	}
}

// killedPid stands for a process that a signal killed mid-write.
const killedPid = 666

func TestCloseByAKilledProcessPublishesNothing(t *testing.T) {
	e := newEnv(t, nil)
	_, h, err := e.fs.Create(ctx, RootIno, "f", syscall.O_WRONLY|syscall.O_CREAT, killedPid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Write(ctx, h, pattern(6<<20), 0); err != nil { // a multipart upload has started
		t.Fatal(err)
	}
	if e.store.Count("CreateMultipartUpload") != 1 {
		t.Fatal("no multipart upload started")
	}
	wantErrno(t, e.fs.Flush(ctx, h, killedPid), syscall.EIO)
	e.fs.Release(ctx, h)
	if keys := e.store.Keys(); len(keys) != 0 || e.store.PendingUploads() != 0 {
		t.Fatalf("after the writer was killed: keys %v, pending uploads %d", keys, e.store.PendingUploads())
	}
}

func TestProcKilledReadsThisProcess(t *testing.T) {
	if procKilled(uint32(os.Getpid())) {
		t.Fatal("a live process reported as killed")
	}
	if procKilled(1 << 30) {
		t.Fatal("a missing process reported as killed")
	}
}
