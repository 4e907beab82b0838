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
	null, err := fusetest.MountNull(dir)
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
