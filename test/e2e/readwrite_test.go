package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadsWithShellTools(t *testing.T) {
	m := mount(t, map[string]string{"hello.txt": "hello world\n", "dir/sub/deep.txt": "deep\n"})
	if out := m.mustSh("cat hello.txt"); out != "hello world\n" {
		t.Fatalf("cat = %q", out)
	}
	if out := m.mustSh("cat dir/sub/deep.txt; ls dir"); out != "deep\nsub\n" {
		t.Fatalf("got %q", out)
	}
	if out := m.mustSh("head -c 5 hello.txt"); out != "hello" {
		t.Fatalf("head = %q", out)
	}
	if out := m.mustSh("stat -c '%s %F' hello.txt dir"); out != "12 regular file\n0 directory\n" {
		t.Fatalf("stat = %q", out)
	}
}

func TestLargeObjectSequentialAndRandomReads(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	data := randomBytes(t, 40<<20+123)
	putBig(t, c, "big.bin", data)
	m := mountBucket(t, srv, bucket, c, bucket)

	got, err := os.ReadFile(m.path("big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sequential read: %d bytes, %v", len(got), err)
	}
	// dd with skip: random access through the shell.
	out := m.mustSh("dd if=big.bin bs=4096 skip=2500 count=3 status=none | od -An -tx1 | tr -d ' \\n'")
	if want := fmt.Sprintf("%x", data[2500*4096:2503*4096]); out != want {
		t.Fatal("dd skip returned wrong bytes")
	}
	f, err := os.Open(m.path("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, off := range []int64{30 << 20, 5, 39 << 20, 1 << 20, int64(len(data)) - 10} {
		buf := make([]byte, 100_000)
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("pread %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], data[off:min(off+100_000, int64(len(data)))]) {
			t.Fatalf("pread %d at %d: wrong bytes", i, off)
		}
	}
}

func TestManyConcurrentReaders(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	data := randomBytes(t, 8<<20)
	putBig(t, c, "shared.bin", data)
	m := mountBucket(t, srv, bucket, c, bucket)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := os.ReadFile(m.path("shared.bin"))
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("reader got %d wrong bytes", len(got))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRemoteChangeMidReadIsESTALE(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	putBig(t, c, "f.bin", randomBytes(t, 4<<20))
	m := mountBucket(t, srv, bucket, c, bucket)
	f, err := os.Open(m.path("f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	putBig(t, c, "f.bin", randomBytes(t, 4<<20)) // another client replaces the object
	// Reading elsewhere needs a new GET, pinned to the version opened.
	var rerr error
	for _, off := range []int64{3 << 20, 0} {
		if _, rerr = f.ReadAt(buf, off); rerr != nil {
			break
		}
	}
	wantErrno(t, "read after remote change", rerr, syscall.ESTALE)
}

func TestWritesWithShellTools(t *testing.T) {
	m := mount(t, nil)
	m.mustSh("echo hello > greeting.txt")
	m.mustSh("touch empty.txt")
	m.mustSh("printf 'abc' > dir-less.txt && mkdir -p a/b && echo nested > a/b/n.txt")
	src := randomBytes(t, 20<<20+7)
	if err := os.WriteFile("/tmp/bucketfs-e2e-src", src, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove("/tmp/bucketfs-e2e-src")
	m.mustSh("cp /tmp/bucketfs-e2e-src copied.bin")
	m.mustSh("dd if=/tmp/bucketfs-e2e-src of=dd.bin bs=1M status=none")

	want := map[string][]byte{
		"greeting.txt": []byte("hello\n"), "empty.txt": {}, "dir-less.txt": []byte("abc"),
		"a/b/n.txt": []byte("nested\n"), "copied.bin": src, "dd.bin": src,
	}
	for key, w := range want {
		got, ok := m.object(key)
		if !ok || !bytes.Equal(got, w) {
			t.Errorf("object %q: present %v, %d bytes, want %d", key, ok, len(got), len(w))
		}
	}
	if out := m.mustSh("cat greeting.txt a/b/n.txt; stat -c %s copied.bin"); out != "hello\nnested\n20971527\n" {
		t.Fatalf("read back = %q", out)
	}
}

func TestOutOfOrderWriteIsEINVALAndLeavesNothing(t *testing.T) {
	m := mount(t, nil)
	f, err := os.Create(m.path("seek.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(t, 6<<20)); err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("x"), 100)
	wantErrno(t, "write at an earlier offset", err, syscall.EINVAL)
	wantErrno(t, "close after the failed write", f.Close(), syscall.EIO)
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("objects after failed write: %v", keys)
	}
	if _, err := os.Stat(m.path("seek.bin")); !os.IsNotExist(err) {
		t.Fatalf("stat after failed write: %v", err)
	}
}

func TestExistingFilesWithoutOverwrite(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "original\n"})
	m.shFails("echo new > f.txt", "Operation not permitted")
	m.shFails("echo more >> f.txt", "Operation not permitted")
	if got, _ := m.object("f.txt"); string(got) != "original\n" {
		t.Fatalf("object changed: %q", got)
	}
}

func TestOverwriteWithAllowOverwrite(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "original\n"}, "--allow-overwrite")
	m.mustSh("echo replaced > f.txt")
	if got, _ := m.object("f.txt"); string(got) != "replaced\n" {
		t.Fatalf("object = %q", got)
	}
	m.shFails("echo more >> f.txt", "Operation not permitted") // append is never allowed
	if out := m.mustSh("cat f.txt"); out != "replaced\n" {
		t.Fatalf("cat = %q", out)
	}
}

func TestDeleteNeedsAllowDelete(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "x"})
	m.shFails("rm f.txt", "Operation not permitted")
	if _, ok := m.object("f.txt"); !ok {
		t.Fatal("deleted without --allow-delete")
	}

	m = mount(t, map[string]string{"f.txt": "x", "d/only.txt": "y"}, "--allow-delete")
	m.mustSh("rm f.txt d/only.txt")
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("keys after rm: %v", keys)
	}
	// The directory disappeared with its last object.
	if out := m.mustSh("sleep 1.1; ls -A"); out != "" {
		t.Fatalf("ls after deleting everything = %q", out)
	}
}

func TestReadOnlyMount(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "x", "d/g": "y"}, "--read-only")
	if out := m.mustSh("cat f.txt"); out != "x" {
		t.Fatal(out)
	}
	for _, script := range []string{"touch new", "echo x > f.txt", "mkdir nd", "rm f.txt", "rmdir d", "mv f.txt g.txt"} {
		m.shFails(script, "Read-only file system")
	}
	if keys := m.keys(); strings.Join(keys, ",") != "d/g,f.txt" {
		t.Fatalf("bucket changed: %v", keys)
	}
}

// cat of a directory of small files through the kernel: every file arrives
// whole with one GET (its lookup's, or the one fetched ahead, see SEMANTICS
// "Consistency"), none twice, and the listing spares the LIST of name/.
func TestCatOfADirectoryIsOneGETPerFile(t *testing.T) {
	const n = 200
	objects := map[string]string{}
	var want strings.Builder
	for i := range n {
		body := fmt.Sprintf("file %03d: %s\n", i, strings.Repeat("x", i))
		objects[fmt.Sprintf("small/s%03d", i)] = body
		want.WriteString(body)
	}
	srv, bucket, c := newBucket(t, objects)
	logs := t.TempDir()
	m := mountBucket(t, srv, bucket, c, bucket, "--debug", "--log-directory", logs)
	if out := m.mustSh("cat small/*"); out != want.String() {
		t.Fatalf("cat small/* printed %d bytes, want the %d of the files in order", len(out), want.Len())
	}
	gets := map[string]int{}
	lists := 0
	for _, b := range unmountForLogs(t, m, logs) {
		for _, line := range strings.Split(b, "\n") {
			switch {
			case strings.Contains(line, "op=GetObject"):
				_, rest, _ := strings.Cut(line, " path=/"+bucket+"/")
				key, _, _ := strings.Cut(rest, " ")
				gets[key]++
			case strings.Contains(line, "op=ListObjectsV2"):
				lists++
			}
		}
	}
	for k := range objects {
		if gets[k] != 1 {
			t.Errorf("%s: %d GETs, want 1", k, gets[k])
		}
	}
	// The bucket probe, the lookup of small/ and the listing: a LIST of
	// name/ per file would be 200 more.
	if lists > 10 {
		t.Errorf("%d LISTs for one listing and %d files read", lists, n)
	}
}

func TestWriterBypassesThePageCache(t *testing.T) {
	m := mount(t, nil)
	f, err := os.OpenFile(m.path("w.bin"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("written\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != syscall.ENODEV {
		if err == nil {
			syscall.Munmap(b)
		}
		t.Fatalf("mmap of a descriptor open for writing: %v, want ENODEV", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after the refused mmap: %v", err)
	}
	if got, ok := m.object("w.bin"); !ok || string(got) != "written\n" {
		t.Fatalf("object = %q (exists %v)", got, ok)
	}
	// A reader maps it as usual.
	r, err := os.Open(m.path("w.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := syscall.Mmap(int(r.Fd()), 0, 8, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap of a reader: %v", err)
	}
	defer syscall.Munmap(b)
	if string(b) != "written\n" {
		t.Fatalf("mapped %q", b)
	}
}
