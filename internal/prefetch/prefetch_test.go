package prefetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

var ctx = context.Background()

func pattern(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

type fixture struct {
	store  *memstore.Store
	fault  *objstoretest.Faulty
	data   []byte
	budget *memory.Budget
	r      *Reader
}

func newFixture(t testing.TB, size int, cfg Config, budget int64) *fixture {
	t.Helper()
	store := memstore.New("b")
	data := pattern(size)
	store.PutObject("k", data)
	info, err := store.Head(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	fault := objstoretest.NewFaulty(store)
	b := memory.NewBudget(budget)
	r := New(fault, "k", info.ETag, int64(size), cfg, b)
	return &fixture{store: store, fault: fault, data: data, budget: b, r: r}
}

func (f *fixture) read(t testing.TB, off int64, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, err := f.r.ReadAt(ctx, buf, off)
	if err != nil {
		t.Fatalf("read %d@%d: %v", n, off, err)
	}
	want := f.data[min(off, int64(len(f.data))):min(off+int64(n), int64(len(f.data)))]
	if !bytes.Equal(buf[:got], want) {
		t.Fatalf("read %d@%d: got %d bytes, want %d (or wrong content)", n, off, got, len(want))
	}
	return buf[:got]
}

func TestSequentialReadUsesGrowingParallelGETs(t *testing.T) {
	f := newFixture(t, 40<<20, Config{PartSize: 8 << 20, MaxWindow: 32 << 20}, 1<<30)
	for off := int64(0); off < 40<<20; off += 1 << 20 {
		f.read(t, off, 1<<20)
	}
	f.read(t, 40<<20, 100) // EOF: no bytes, no error
	gets := f.store.Count("Get")
	// 0.25 + 0.5 + 1 + 2 + 4 + 8 + 8 + 8 + 8 + (rest) MiB chunks: 10 GETs, not 40.
	if gets > 10 {
		t.Fatalf("%d GETs for a 40 MiB sequential read: chunks do not grow", gets)
	}
	f.r.Close()
	if used := f.budget.Used(); used != 0 {
		t.Fatalf("%d bytes of budget still held after Close", used)
	}
}

func TestFirstReadCostsOneSmallGET(t *testing.T) {
	f := newFixture(t, 100<<20, Config{}, 1<<30)
	f.read(t, 0, 4096) // head -c 4096
	f.r.Close()
	if gets := f.store.Count("Get"); gets > 2 {
		t.Fatalf("%d GETs for the first 4 KiB", gets)
	}
	if peak := f.budget.Peak(); peak > 1<<20 {
		t.Fatalf("peak %d bytes fetched ahead for a 4 KiB read", peak)
	}
}

func TestSmallFileIsOneGET(t *testing.T) {
	f := newFixture(t, 4096, Config{}, 1<<30)
	f.read(t, 0, 128<<10)
	f.r.Close()
	if gets := f.store.Count("Get"); gets != 1 {
		t.Fatalf("%d GETs for a 4 KiB file", gets)
	}
}

func TestRandomReadsAreRightSized(t *testing.T) {
	f := newFixture(t, 64<<20, Config{}, 1<<30)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 50; i++ {
		off := rng.Int63n(60 << 20)
		off -= off % 4096
		if off == 0 {
			off = 4096
		}
		f.read(t, off, 256<<10)
	}
	f.r.Close()
	if peak := f.budget.Peak(); peak > 2<<20 {
		t.Fatalf("random 256 KiB reads held up to %d bytes: read-ahead was not dropped", peak)
	}
}

func TestSeekThenSequentialStartsNewStream(t *testing.T) {
	f := newFixture(t, 64<<20, Config{}, 1<<30)
	f.read(t, 0, 1<<20)
	f.read(t, 50<<20, 1<<20) // seek
	before := f.store.Count("Get")
	for off := int64(51 << 20); off < 60<<20; off += 1 << 20 {
		f.read(t, off, 1<<20)
	}
	// 0.25, 0.25, 0.5, 1, 1, 2, 4 MiB: doubling, each chunk ending on a
	// multiple of its size (51.25 is not one of 0.5, nor 53 of 2), and one
	// more when the reads outrun the window.
	if gets := f.store.Count("Get") - before; gets > 8 {
		t.Fatalf("%d GETs for 9 MiB read sequentially after a seek", gets)
	}
	f.r.Close()
}

func TestOutOfOrderAndBackwardReadsInsideTheWindow(t *testing.T) {
	f := newFixture(t, 32<<20, Config{}, 1<<30)
	f.read(t, 0, 1<<20)
	f.read(t, 3<<20, 1<<20) // the kernel's read-ahead arriving out of order
	f.read(t, 1<<20, 2<<20)
	f.read(t, 512<<10, 4096) // a small backward seek
	f.read(t, 4<<20, 1<<20)
	f.r.Close()
	if gets := f.store.Count("Get"); gets > 7 { // the stream's growing chunks, nothing more
		t.Fatalf("%d GETs", gets)
	}
}

func TestConcurrentReadsOfOneHandle(t *testing.T) {
	f := newFixture(t, 32<<20, Config{PartSize: 4 << 20}, 1<<30)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for off := int64(w) << 20; off < 32<<20; off += 4 << 20 {
				f.read(t, off, 1<<20)
			}
		}(w)
	}
	wg.Wait()
	f.r.Close()
	if used := f.budget.Used(); used != 0 {
		t.Fatalf("budget leak: %d", used)
	}
}

func TestViewsPinBuffersUntilReleased(t *testing.T) {
	f := newFixture(t, 16<<20, Config{PartSize: 1 << 20, MaxWindow: 2 << 20}, 1<<30)
	buf := make([]byte, 1<<20)
	data, release, err := f.r.ReadView(ctx, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	keep := append([]byte(nil), data...)
	// Read far ahead so the first chunk leaves the queue while still viewed.
	for off := int64(1 << 20); off < 8<<20; off += 1 << 20 {
		f.read(t, off, 1<<20)
	}
	if !bytes.Equal(data, keep) || !bytes.Equal(data, f.data[:1<<20]) {
		t.Fatal("a viewed buffer was recycled before release")
	}
	release()
	f.r.Close()
	if used := f.budget.Used(); used != 0 {
		t.Fatalf("budget leak after release: %d", used)
	}
}

func TestWindowShrinksUnderMemoryPressure(t *testing.T) {
	f := newFixture(t, 64<<20, Config{PartSize: 4 << 20, MaxWindow: 64 << 20}, 8<<20)
	for off := int64(0); off < 64<<20; off += 1 << 20 {
		f.read(t, off, 1<<20)
	}
	f.r.Close()
	// Read-ahead stays in the budget; only the chunk a read waits on may
	// overdraw it, by at most one part.
	if peak := f.budget.Peak(); peak > 8<<20+4<<20 {
		t.Fatalf("peak %d bytes with an 8 MiB budget", peak)
	}
}

func TestChangedObjectIsStickyErrChanged(t *testing.T) {
	f := newFixture(t, 32<<20, Config{}, 1<<30)
	f.read(t, 0, 4096)
	f.store.PutObject("k", pattern(32<<20+1))
	buf := make([]byte, 4096)
	_, err := f.r.ReadAt(ctx, buf, 20<<20) // needs a new GET
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
	if _, err := f.r.ReadAt(ctx, buf, 0); !errors.Is(err, ErrChanged) {
		t.Fatalf("later read: %v, want ErrChanged", err)
	}
	f.r.Close()
}

func TestWrongResponsesAreErrors(t *testing.T) {
	cases := []struct {
		name string
		fix  func(*objstore.GetOutput)
	}{
		{"wrong range", func(o *objstore.GetOutput) { o.Offset++ }},
		{"wrong length", func(o *objstore.GetOutput) { o.Length-- }},
		{"wrong size", func(o *objstore.GetOutput) { o.Info.Size++ }},
		{"wrong etag", func(o *objstore.GetOutput) { o.Info.ETag = `"other"` }},
		{"short body", func(o *objstore.GetOutput) { o.Body = &shortBody{o.Body} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := memstore.New("b")
			store.PutObject("k", pattern(1<<20))
			info, _ := store.Head(ctx, "k")
			r := New(&objstoretest.Mangled{Client: store, Mangle: c.fix}, "k", info.ETag, 1<<20, Config{}, nil)
			defer r.Close()
			buf := make([]byte, 4096)
			if _, err := r.ReadAt(ctx, buf, 0); err == nil {
				t.Fatal("a bad response was accepted")
			}
		})
	}
}

// shortBody returns one byte less than it has.
type shortBody struct {
	rc interface {
		Read([]byte) (int, error)
		Close() error
	}
}

func (s *shortBody) Read(p []byte) (int, error) {
	var all bytes.Buffer
	all.ReadFrom(readerFunc(s.rc.Read))
	b := all.Bytes()
	if len(b) > 0 {
		b = b[:len(b)-1]
	}
	s.rc = &bytesRC{bytes.NewReader(b)}
	return s.rc.Read(p)
}
func (s *shortBody) Close() error { return nil }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type bytesRC struct{ *bytes.Reader }

func (bytesRC) Close() error { return nil }

func TestCloseWithReadsInFlight(t *testing.T) {
	f := newFixture(t, 64<<20, Config{}, 1<<30)
	f.fault.SetLatency(20 * time.Millisecond)
	f.read(t, 0, 1<<20)
	f.read(t, 1<<20, 1<<20) // more read-ahead in flight
	f.r.Close()
	if used := f.budget.Used(); used != 0 {
		t.Fatalf("budget leak after Close with GETs in flight: %d", used)
	}
}

// BenchmarkSequentialRead reads 64 MiB sequentially in 1 MiB reads from an
// object store with 2 ms of latency per request.
func BenchmarkSequentialRead(b *testing.B) {
	const size = 64 << 20
	f := newFixture(b, size, Config{}, 256<<20)
	f.fault.SetLatency(2 * time.Millisecond)
	info, _ := f.store.Head(ctx, "k")
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := New(f.fault, "k", info.ETag, size, Config{}, f.budget)
		for off := int64(0); off < size; off += 1 << 20 {
			data, release, err := r.ReadView(ctx, buf, off)
			if err != nil || len(data) != 1<<20 {
				b.Fatal(err)
			}
			release()
		}
		r.Close()
	}
}

// BenchmarkRandomRead does 256 KiB reads at random offsets with 2 ms latency.
func BenchmarkRandomRead(b *testing.B) {
	const size = 256 << 20
	f := newFixture(b, size, Config{}, 256<<20)
	f.fault.SetLatency(2 * time.Millisecond)
	buf := make([]byte, 256<<10)
	rng := rand.New(rand.NewSource(1))
	b.SetBytes(256 << 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := rng.Int63n(size-(256<<10)) + 1
		if _, err := f.r.ReadAt(ctx, buf, off); err != nil {
			b.Fatal(err)
		}
	}
}

// The kernel splits a random 256 KiB read into two 128 KiB requests; the
// second continues the first and must not start a megabyte of read-ahead.
func TestRandomReadsSplitInTwoStayRightSized(t *testing.T) {
	f := newFixture(t, 64<<20, Config{}, 1<<30)
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 50; i++ {
		off := 4096 + rng.Int63n(60<<20)
		off -= off % 4096
		f.read(t, off, 128<<10)
		f.read(t, off+128<<10, 128<<10)
	}
	f.r.Close()
	// Each recent place keeps at most a megabyte and a half or so until its
	// stream goes stale; a megabyte stream per split read would be 50+ MiB.
	if peak := f.budget.Peak(); peak > maxStreams*2<<20 {
		t.Fatalf("split random reads held up to %d bytes of read-ahead", peak)
	}
}

// Readers in step (the kernel sends each page once, through whichever
// handle missed it first) share one stream; readers far apart each keep
// their own.
func TestSharedReaderServesSeveralReaders(t *testing.T) {
	f := newFixture(t, 64<<20, Config{}, 1<<30)
	for off := int64(0); off < 32<<20; off += 1 << 20 {
		f.read(t, off, 1<<20)
	}
	inStep := f.store.Count("Get")
	for off := int64(0); off < 16<<20; off += 1 << 20 { // two readers far apart, interleaved
		f.read(t, off, 1<<20)
		f.read(t, 40<<20+off, 1<<20)
	}
	f.r.Close()
	if gets := f.store.Count("Get") - inStep; gets > 20 {
		t.Fatalf("%d GETs for two interleaved sequential readers: their streams thrash", gets)
	}
	if used := f.budget.Used(); used != 0 {
		t.Fatalf("budget leak: %d", used)
	}
}

// SEMANTICS "Resources": readers of different objects share one small
// budget: each sizes its chunks to its share, so all of them progress, the
// budget is overdrawn by at most the chunks being waited on, and the
// kernel's aligned 1 MiB reads are views of one chunk each (no copy).
func TestManyReadersShareASmallBudget(t *testing.T) {
	const readers, size = 8, 24 << 20
	b := memory.NewBudget(64 << 20)
	store := memstore.New("b")
	data := pattern(size)
	var wg sync.WaitGroup
	var copies atomic.Int64
	for i := range readers {
		key := fmt.Sprintf("k%d", i)
		store.PutObject(key, data)
		info, _ := store.Head(ctx, key)
		r := New(store, key, info.ETag, size, Config{}, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			buf := make([]byte, 1<<20)
			for off := int64(0); off < size; off += 1 << 20 {
				got, release, err := r.ReadView(ctx, buf, off)
				if err != nil || !bytes.Equal(got, data[off:off+1<<20]) {
					t.Errorf("%s: read at %d: %v", key, off, err)
					return
				}
				if off >= 4<<20 && &got[0] == &buf[0] {
					copies.Add(1)
				}
				release()
			}
		}()
	}
	wg.Wait()
	if n := copies.Load(); n > 0 {
		t.Fatalf("%d aligned 1 MiB reads were copied out of two chunks", n)
	}
	// Each share is 64 MiB less FUSE's overhead over 8, 6 MiB: chunks of
	// 1 MiB, and the one waited on per reader may overdraw.
	if peak, most := b.Peak(), b.Limit()+readers*(1<<20); peak > most {
		t.Fatalf("peak %d MiB, want at most %d MiB", peak>>20, most>>20)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still reserved after Close", b.Used())
	}
}
