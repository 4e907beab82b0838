package e2e

import (
	"bytes"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// A handle opened on version A of an object returns only A's bytes, or
// ESTALE, even after another client replaced the object and a new open read
// version B: the kernel's page cache is per inode, so B must not be cached
// where A's handle reads.
func TestAHandleNeverReadsAnotherVersionsBytes(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	const size = 4 << 20
	a, b := randomBytes(t, size), randomBytes(t, size)
	putBig(t, c, "f.bin", a)
	m := mountBucket(t, srv, bucket, c, bucket)

	fa, err := os.Open(m.path("f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	buf := make([]byte, 64<<10)
	if _, err := fa.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, a[:len(buf)]) {
		t.Fatalf("first read of version A: %v", err)
	}

	putBig(t, c, "f.bin", b)           // another client replaces the object
	time.Sleep(300 * time.Millisecond) // past the file TTL: the next open sees B
	fb, err := os.Open(m.path("f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(fb)
	fb.Close()
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("a new open after the change did not read version B whole: %d bytes, %v", len(got), err)
	}

	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := fa.ReadAt(buf, off)
		if err != nil {
			wantErrno(t, "read of version A's handle", err, syscall.ESTALE)
			continue
		}
		if !bytes.Equal(buf[:n], a[off:off+int64(n)]) {
			same := bytes.Equal(buf[:n], b[off:off+int64(n)])
			t.Fatalf("version A's handle read wrong bytes at %d (version B's: %v)", off, same)
		}
	}
}
