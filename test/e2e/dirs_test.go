package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

func TestDirectoriesFromKeys(t *testing.T) {
	m := mount(t, map[string]string{
		"b.txt": "", "a-b": "", "a/x": "", "a0": "", "B": "", "marker/": "", "z/y/x": "",
	})
	if out := m.mustSh("ls -1"); out != "B\na\na-b\na0\nb.txt\nmarker\nz\n" {
		t.Fatalf("ls = %q (lexicographic by name expected)", out)
	}
	if out := m.mustSh("ls -A marker; stat -c %F marker z z/y"); out != "directory\ndirectory\ndirectory\n" {
		t.Fatalf("got %q", out)
	}
}

func TestMkdirAndRmdir(t *testing.T) {
	m := mount(t, map[string]string{"remote/x": "x"})
	m.mustSh("mkdir new && test -d new")
	if keys := m.keys(); strings.Join(keys, ",") != "remote/x" {
		t.Fatalf("mkdir wrote to the bucket: %v", keys)
	}
	if out := m.mustSh("ls"); out != "new\nremote\n" {
		t.Fatalf("ls = %q", out)
	}
	m.mustSh("rmdir new && ! test -e new")
	m.shFails("rmdir remote", "Directory not empty")
	m.mustSh("mkdir -p d1/d2 && echo f > d1/d2/f.txt")
	if got, _ := m.object("d1/d2/f.txt"); string(got) != "f\n" {
		t.Fatalf("object = %q", got)
	}
	m.shFails("rmdir d1/d2", "Directory not empty")
}

func TestLargeDirectoryListing(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	const n = 3000 // several ListObjectsV2 pages and several FUSE readdir replies; 100,000 runs on memstore
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			putBig(t, c, fmt.Sprintf("many/f%05d", i), nil)
		}(i)
	}
	wg.Wait()
	m := mountBucket(t, srv, bucket, c, bucket)
	entries, err := os.ReadDir(m.path("many"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%d entries, want %d", len(entries), n)
	}
	for i, e := range entries {
		if want := fmt.Sprintf("f%05d", i); e.Name() != want {
			t.Fatalf("entry %d = %q, want %q", i, e.Name(), want)
		}
	}
	if out := m.mustSh("ls -f many | wc -l"); strings.TrimSpace(out) != fmt.Sprint(n+2) {
		t.Fatalf("ls -f counted %s", out)
	}
}

func TestOtherClientsChangesShowUp(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "1"})
	if out := m.mustSh("ls; stat -c %s f.txt"); out != "f.txt\n1\n" {
		t.Fatal(out)
	}
	m.put("new.txt", "new")
	m.put("f.txt", "1234")
	// Listings are not cached: new objects show at once.
	if out := m.mustSh("ls"); out != "f.txt\nnew.txt\n" {
		t.Fatalf("ls right after another client's PUT = %q", out)
	}
	if out := m.mustSh("cat new.txt"); out != "new" {
		t.Fatalf("cat = %q", out)
	}
	// stat catches up within the file TTL (0.1 s by default).
	time.Sleep(300 * time.Millisecond)
	if out := m.mustSh("stat -c %s f.txt; cat f.txt"); out != "4\n1234" {
		t.Fatalf("after TTL = %q", out)
	}
	if err := m.s3.Delete(context.Background(), "new.txt"); err != nil {
		t.Fatal(err)
	}
	if out := m.mustSh("ls"); out != "f.txt\n" {
		t.Fatalf("ls after remote delete = %q", out)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(m.path("new.txt")); !os.IsNotExist(err) {
		t.Fatalf("stat of remotely deleted file: %v", err)
	}
}

func TestMetadataTTLIndefinite(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "1"}, "--metadata-ttl", "indefinite")
	m.mustSh("stat f.txt")
	m.put("f.txt", "1234")
	time.Sleep(300 * time.Millisecond)
	if out := m.mustSh("stat -c %s f.txt"); out != "1\n" {
		t.Fatalf("with --metadata-ttl indefinite the cached size stays: %q", out)
	}
}

func TestUnsupportedOperationsFailClearly(t *testing.T) {
	m := mount(t, map[string]string{"f.txt": "x"}, "--allow-delete", "--allow-overwrite")
	m.shFails("mv f.txt g.txt", "Function not implemented")
	m.shFails("ln -s f.txt link", "Operation not permitted")
	m.shFails("ln f.txt hard", "Operation not permitted")
	m.shFails("chmod 600 f.txt", "Operation not permitted")
	m.shFails("chown 1:1 f.txt", "Operation not permitted")
	m.shFails("flock f.txt true", "Operation not supported")
	err := syscall.Setxattr(m.path("f.txt"), "user.k", []byte("v"), 0)
	wantErrno(t, "setxattr", err, syscall.EOPNOTSUPP)
	if keys := m.keys(); strings.Join(keys, ",") != "f.txt" {
		t.Fatalf("bucket changed: %v", keys)
	}
}

func TestOwnershipAndModes(t *testing.T) {
	m := mount(t, map[string]string{"d/f": "x"}, "--uid", "1234", "--gid", "5678", "--file-mode", "0600", "--dir-mode", "0700")
	if out := m.mustSh("stat -c '%u %g %a' d d/f"); out != "1234 5678 700\n1234 5678 600\n" {
		t.Fatalf("stat = %q", out)
	}
	m = mount(t, map[string]string{"f": "x"})
	want := fmt.Sprintf("%d %d 644\n", os.Getuid(), os.Getgid())
	if out := m.mustSh("stat -c '%u %g %a' f"); out != want {
		t.Fatalf("default ownership = %q, want %q", out, want)
	}
}

func TestPrefixMounts(t *testing.T) {
	srv, bucket, c := newBucket(t, map[string]string{"data/in.txt": "in", "other/x": "x"})
	for i, how := range [][]string{
		{"s3://" + bucket + "/data/"},
		{bucket + "/data/"},
		{bucket, "--prefix", "data/"},
	} {
		m := mountBucket(t, srv, bucket, c, how[0], how[1:]...)
		if out := m.mustSh("ls"); !strings.HasPrefix(out, "in.txt\n") || strings.Contains(out, "other") {
			t.Fatalf("%v: ls = %q", how, out)
		}
		name := fmt.Sprintf("out%d.txt", i)
		m.mustSh("echo o > " + name)
		if _, ok := m.object("data/" + name); !ok {
			t.Fatalf("%v: file not written under the prefix", how)
		}
		unmount(t, m.dir)
	}
	_ = objstore.ErrNotFound
}

// Names found missing are trusted for the negative TTL: 0.1 s by default,
// longer with --negative-metadata-ttl (the kernel is given the same timeout).
func TestNegativeMetadataTTL(t *testing.T) {
	m := mount(t, nil)
	m.shFails("stat -c %s late.txt", "No such file")
	m.put("late.txt", "here")
	time.Sleep(300 * time.Millisecond)
	if out := m.mustSh("cat late.txt"); out != "here" {
		t.Fatalf("after the default negative TTL: %q", out)
	}

	m = mount(t, nil, "--negative-metadata-ttl", "5")
	m.shFails("stat -c %s late.txt", "No such file")
	m.put("late.txt", "here")
	time.Sleep(300 * time.Millisecond)
	m.shFails("cat late.txt", "No such file") // still within the 5 s negative TTL
}
