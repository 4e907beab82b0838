package fs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

var ctx = context.Background()

// clock is a settable time source for TTL tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	t     *testing.T
	fs    *FS
	store *memstore.Store
	fault *objstoretest.Faulty
	clock *clock
}

func defaultConfig() Config {
	return Config{UID: 1000, GID: 1000, DirMode: 0755, FileMode: 0644,
		DirTTL: time.Second, FileTTL: 100 * time.Millisecond, NegativeTTL: 100 * time.Millisecond,
		WritePartSize: 5 << 20, MaxThreads: 4}
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	cfg := defaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	store := memstore.New("test-bucket")
	fault := objstoretest.NewFaulty(store)
	f := New(fault, cfg)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	f.now = c.now
	f.tgid = func(pid uint32) uint32 { return pid }
	f.killed = func(pid uint32) bool { return pid == killedPid }
	return &env{t: t, fs: f, store: store, fault: fault, clock: c}
}

func wantErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	if got := Errno(err); got != want {
		t.Fatalf("errno = %v (%v), want %v", got, err, want)
	}
}

// resolve walks a slash-separated path from the root.
func (e *env) resolve(path string) (Attr, error) {
	e.t.Helper()
	a := Attr{Ino: RootIno}
	for _, name := range splitPath(path) {
		var err error
		if a, err = e.fs.Lookup(ctx, a.Ino, name); err != nil {
			return Attr{}, err
		}
	}
	return a, nil
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i > start {
				out = append(out, p[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func (e *env) mustResolve(path string) Attr {
	e.t.Helper()
	a, err := e.resolve(path)
	if err != nil {
		e.t.Fatalf("resolve %q: %v", path, err)
	}
	return a
}

func (e *env) names(dir string) []string {
	e.t.Helper()
	ents, err := e.fs.ReadDir(ctx, e.mustResolve(dir).Ino)
	if err != nil {
		e.t.Fatalf("readdir %q: %v", dir, err)
	}
	var out []string
	for _, d := range ents[2:] {
		kind := "f"
		if d.Mode == syscall.S_IFDIR {
			kind = "d"
		}
		out = append(out, d.Name+":"+kind)
	}
	return out
}

func (e *env) readAll(path string) ([]byte, error) {
	e.t.Helper()
	a := e.mustResolve(path)
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		return nil, err
	}
	defer e.fs.Release(ctx, h)
	var out []byte
	buf := make([]byte, 128<<10)
	for off := int64(0); ; {
		n, err := e.fs.Read(ctx, h, buf, off)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
}

// writeFile creates path in an existing directory, writes data in chunks and closes it.
func (e *env) writeFile(dir, name string, data []byte) error {
	e.t.Helper()
	d := e.mustResolve(dir)
	_, h, err := e.fs.Create(ctx, d.Ino, name, syscall.O_WRONLY|syscall.O_CREAT, 7)
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += 100_000 {
		end := min(off+100_000, len(data))
		if _, err := e.fs.Write(ctx, h, data[off:end], int64(off)); err != nil {
			e.fs.Release(ctx, h)
			return err
		}
	}
	ferr := e.fs.Flush(ctx, h, 7)
	rerr := e.fs.Release(ctx, h)
	if ferr != nil {
		return ferr
	}
	return rerr
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func equalStrings(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestErrnoMapping(t *testing.T) {
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{fmt.Errorf("x: %w", objstore.ErrNotFound), syscall.ENOENT},
		{fmt.Errorf("x: %w", objstore.ErrPreconditionFailed), syscall.ESTALE},
		{fmt.Errorf("x: %w", objstore.ErrAccessDenied), syscall.EACCES},
		{fmt.Errorf("x: %w", objstore.ErrThrottled), syscall.EIO},
		{errors.New("anything else"), syscall.EIO},
		{errorf(syscall.EPERM, "no"), syscall.EPERM},
		{wrapf(syscall.EINVAL, objstore.ErrNotFound, "wrapped"), syscall.EINVAL},
		{fmt.Errorf("outer: %w", errorf(syscall.EROFS, "inner")), syscall.EROFS},
	}
	for _, c := range cases {
		if got := Errno(c.err); got != c.want {
			t.Errorf("Errno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestStatOfFilesAndDirectories(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("dir/file.txt", []byte("hello"))
	a := e.mustResolve("dir/file.txt")
	if a.IsDir() || a.Size != 5 || a.Mode != syscall.S_IFREG|0644 || a.UID != 1000 || a.GID != 1000 {
		t.Fatalf("file attr = %+v", a)
	}
	d := e.mustResolve("dir")
	if !d.IsDir() || d.Mode != syscall.S_IFDIR|0755 {
		t.Fatalf("dir attr = %+v", d)
	}
	_, err := e.resolve("missing")
	wantErrno(t, err, syscall.ENOENT)
	_, err = e.resolve("dir/file.txt/x")
	wantErrno(t, err, syscall.ENOTDIR)
}

func TestPrefixMount(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Prefix = "data/" })
	e.store.PutObject("data/a.txt", []byte("a"))
	e.store.PutObject("other/b.txt", []byte("b"))
	if got := e.names(""); !equalStrings(got, []string{"a.txt:f"}) {
		t.Fatalf("root listing = %v", got)
	}
	if err := e.writeFile("", "new.txt", []byte("n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Object("data/new.txt"); !ok {
		t.Fatalf("written file not under the prefix: %v", e.store.Keys())
	}
}

// ReadDir lists directory ino completely: the tests' view of OpenDir/Next.
func (f *FS) ReadDir(ctx context.Context, ino uint64) ([]DirEntry, error) {
	d, err := f.OpenDir(ctx, ino)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	for {
		e, ok, err := d.Next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, e)
	}
}
