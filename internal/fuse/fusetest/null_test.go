package fusetest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bucketfs/bucketfs/internal/fuse/fusetest"
)

// Null takes every byte written and keeps none: a file written through it
// is accepted whole, and what it counts is what was written.
func TestNullTakesEveryWrite(t *testing.T) {
	dir := t.TempDir()
	null, err := fusetest.MountNull(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := null.Unmount(); err != nil {
			t.Error(err)
		}
	}()
	data := bytes.Repeat([]byte("0123456789abcdef"), (9<<20)/16+3) // more than one 8 MiB part, not a multiple
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "g"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := null.Written(), int64(len(data)+1); got != want {
		t.Errorf("Written() = %d, want %d", got, want)
	}
}

// The file ReadName reads back its ReadByte bytes, whole, through the page
// cache and the raised read-ahead.
func TestNullServesItsFile(t *testing.T) {
	dir := t.TempDir()
	const size = 9<<20 + 12345
	null, err := fusetest.MountNull(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := null.Unmount(); err != nil {
			t.Error(err)
		}
	}()
	got, err := os.ReadFile(filepath.Join(dir, fusetest.ReadName))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size {
		t.Fatalf("read %d bytes, want %d", len(got), size)
	}
	for off, b := range got {
		if b != fusetest.ReadByte(int64(off)) {
			t.Fatalf("byte %d is %d, want %d", off, b, fusetest.ReadByte(int64(off)))
		}
	}
}
