package fs

import (
	"bytes"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

// requests counts the store's requests of each kind since the last call.
func (e *env) requests() func() map[string]int {
	ops := []string{"Head", "Get", "List"}
	base := map[string]int{}
	for _, op := range ops {
		base[op] = e.store.Count(op)
	}
	return func() map[string]int {
		got := map[string]int{}
		for _, op := range ops {
			if n := e.store.Count(op) - base[op]; n != 0 {
				got[op] = n
			}
		}
		return got
	}
}

func sameCounts(a, b map[string]int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// Reading a small file right after its lookup costs the lookup only: its
// stat was a GET that brought the whole object.
func TestSmallFileIsReadWithItsLookup(t *testing.T) {
	e := newEnv(t, nil)
	small := bytes.Repeat([]byte("s"), DefaultSmallFileMax)
	big := bytes.Repeat([]byte("b"), DefaultSmallFileMax+1)
	// In the root: a lookup of a directory would leave its cancelled stat
	// to be counted at some later time.
	e.store.PutObject("small", small)
	e.store.PutObject("big", big)
	for _, tc := range []struct {
		name string
		want []byte
		reqs map[string]int
	}{
		{"small", small, map[string]int{"Get": 1, "List": 1}}, // lookup: GET ‖ LIST; read: nothing
		{"big", big, map[string]int{"Get": 1 + 1, "List": 1}}, // the read GETs what the lookup could not bring
	} {
		count := e.requests()
		got, err := e.readAll(tc.name)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Fatalf("read %s: %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.want))
		}
		if c := count(); !sameCounts(c, tc.reqs) {
			t.Errorf("lookup, open and read of %s sent %v; want %v", tc.name, c, tc.reqs)
		}
	}
	if used, _ := e.fs.MemoryInUse(); used != 0 {
		t.Errorf("%d bytes of the memory budget still in use after the files were closed", used)
	}
}

// Contents waiting for an open hold at most a 16th of the buffer budget and
// count against the budget; the oldest are dropped first and then read
// with a GET of their own.
func TestHeldContentsAreBounded(t *testing.T) {
	const fileSize = 40
	e := newEnv(t, func(c *Config) { c.MemoryTarget = 16 * 200 }) // a budget of 1600 bytes: 100 for held contents
	for i := range 3 {
		e.store.PutObject(fmt.Sprintf("f%d", i), bytes.Repeat([]byte{byte('a' + i)}, fileSize))
	}
	for i := range 3 {
		e.mustResolve(fmt.Sprintf("f%d", i))
	}
	if used, _ := e.fs.MemoryInUse(); used != 2*fileSize {
		t.Fatalf("memory in use %d after 3 lookups of %d bytes; want %d (the oldest dropped)", used, fileSize, 2*fileSize)
	}
	for i, wantGets := range []int{1, 0, 0} {
		count := e.requests()
		name := fmt.Sprintf("f%d", i)
		got, err := e.readAll(name) // within the TTL: no new lookup
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + i)}, fileSize)) {
			t.Fatalf("read %s = %q, %v", name, got, err)
		}
		if c := count(); c["Get"] != wantGets || c["Head"]+c["List"] != 0 {
			t.Errorf("read of %s sent %v; want %d GET", name, c, wantGets)
		}
	}
	if used, _ := e.fs.MemoryInUse(); used != 0 {
		t.Errorf("%d bytes of the budget in use after every file was read and closed", used)
	}
}

// Held content is of one version: a new version found by a later lookup
// replaces it, and writing the file drops it.
func TestHeldContentFollowsTheVersion(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	e.store.PutObject("f", []byte("v1"))
	e.mustResolve("f")
	e.store.PutObject("f", []byte("version 2"))
	e.clock.add(150 * time.Millisecond) // past the file TTL: the next lookup asks again
	if got, err := e.readAll("f"); err != nil || string(got) != "version 2" {
		t.Fatalf("read after the object changed = %q, %v; want the new version", got, err)
	}
	if used, _ := e.fs.MemoryInUse(); used != 0 {
		t.Errorf("%d bytes of the budget in use; the old version's content was not released", used)
	}

	e.clock.add(150 * time.Millisecond)
	a := e.mustResolve("f") // holds "version 2"
	if used, _ := e.fs.MemoryInUse(); used != int64(len("version 2")) {
		t.Fatalf("memory in use %d after a lookup of a 9-byte file", used)
	}
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 1)
	if err != nil {
		t.Fatal(err)
	}
	if used, _ := e.fs.MemoryInUse(); used != 0 {
		t.Errorf("%d bytes of the budget in use; opening for writing must drop the held content", used)
	}
	if _, err := e.fs.Write(ctx, h, []byte("v3"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, h, 1); err != nil {
		t.Fatal(err)
	}
	e.fs.Release(ctx, h)
	if got, err := e.readAll("f"); err != nil || string(got) != "v3" {
		t.Fatalf("read after rewriting = %q, %v", got, err)
	}
}

// Within the TTL a small file reads as the version its lookup saw, whole,
// even if another client replaces the object meanwhile: as a stat within
// the TTL does, and never mixing versions.
func TestSmallFileWithinTTLReadsTheVersionLookedUp(t *testing.T) {
	e := newEnv(t, nil)
	e.store.PutObject("f", []byte("first"))
	a := e.mustResolve("f")
	e.store.PutObject("f", []byte("second version"))
	got, err := e.readAll("f")
	if err != nil || string(got) != "first" {
		t.Fatalf("read = %q, %v; want the version the lookup saw", got, err)
	}
	if g, _ := e.fs.Getattr(ctx, a.Ino); g.Size != int64(len("first")) {
		t.Errorf("stat size %d, want %d (the same version as the data)", g.Size, len("first"))
	}
}

// Under a small memory target a read's GETs shrink to an eighth of the
// buffer budget (each stream may overdraw by the chunk it waits on), while
// a roomy one uses whole read parts.
func TestReadGETsShrinkWithTheMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		target, wantMax int64
	}{
		{256 << 20, 8 << 20}, // budget 208 MiB: the 8 MiB read part
		{32 << 20, 2 << 20},  // budget 16 MiB: 2 MiB
	} {
		e := newEnv(t, func(c *Config) { c.MemoryTarget = tc.target; c.ReadPartSize = 8 << 20 })
		data := bytes.Repeat([]byte("0123456789abcdef"), (24<<20)/16)
		e.store.PutObject("big", data)
		var mu sync.Mutex
		var largest int64
		e.fs.client = &objstoretest.Mangled{Client: e.fault, Mangle: func(o *objstore.GetOutput) {
			mu.Lock()
			largest = max(largest, o.Length)
			mu.Unlock()
		}}
		got, err := e.readAll("big")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("target %d MiB: read %d bytes, %v", tc.target>>20, len(got), err)
		}
		if largest != tc.wantMax {
			t.Errorf("target %d MiB: largest GET %d bytes, want %d", tc.target>>20, largest, tc.wantMax)
		}
	}
}
