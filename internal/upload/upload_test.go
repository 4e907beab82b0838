package upload_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/upload"
)

const ps = objstore.MinPartSize // the part size of every test: S3's minimum, 5 MiB

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// block is random bytes of a prime length, so that content is not periodic in
// any part or chunk size: a misplaced or repeated chunk shows.
var block = func() []byte {
	b := make([]byte, 65521)
	_, _ = rand.NewChaCha8([32]byte{42}).Read(b)
	return b
}()

// content is size bytes of block, repeated.
func content(size int) []byte {
	b := make([]byte, size)
	for off := 0; off < size; off += len(block) {
		copy(b[off:], block)
	}
	return b
}

// writeAll writes data in chunks of chunk bytes (all at once if chunk is 0).
func writeAll(t *testing.T, w *upload.Writer, data []byte, chunk int) {
	t.Helper()
	if chunk <= 0 {
		chunk = max(len(data), 1)
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if err := w.Write(context.Background(), data[off:end], int64(off)); err != nil {
			t.Fatalf("Write at %d: %v", off, err)
		}
	}
	if w.Size() != int64(len(data)) {
		t.Fatalf("Size() = %d after writing %d bytes", w.Size(), len(data))
	}
}

// partCall is one UploadPart request.
type partCall struct {
	number int32
	size   int
}

// recorder records UploadPart calls and how many run at once.
type recorder struct {
	objstore.Client
	mu          sync.Mutex
	calls       []partCall
	inFlight    int
	maxInFlight int
	gate        chan struct{} // when set, each UploadPart waits for a token
}

func (r *recorder) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	r.mu.Lock()
	r.calls = append(r.calls, partCall{in.Number, len(in.Body)})
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	if r.gate != nil {
		<-r.gate
	}
	return r.Client.UploadPart(ctx, in)
}

func (r *recorder) sortedCalls() []partCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := slices.Clone(r.calls)
	slices.SortFunc(c, func(a, b partCall) int { return int(a.number - b.number) })
	return c
}

func (r *recorder) peak() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxInFlight
}

// counts is the number of each request a store received.
type counts struct{ put, create, part, complete, abort int }

func countsOf(s *memstore.Store) counts {
	return counts{s.Count(memstore.OpPut), s.Count(memstore.OpCreateMultipartUpload), s.Count(memstore.OpUploadPart),
		s.Count(memstore.OpCompleteMultipartUpload), s.Count(memstore.OpAbortMultipartUpload)}
}

func TestSmallObjectIsOnePutAtComplete(t *testing.T) {
	s := memstore.New("b")
	w := upload.New(s, "dir/key", ps, 4, discard)
	writeAll(t, w, []byte("hello, "), 0)
	if err := w.Write(context.Background(), []byte("world"), 7); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), nil, 12); err != nil { // an empty write at the end is fine
		t.Fatal(err)
	}
	if keys := s.Keys(); len(keys) != 0 || countsOf(s) != (counts{}) {
		t.Fatalf("before Complete: keys %q, requests %+v", keys, countsOf(s))
	}
	out, err := w.Complete(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Object("dir/key"); !ok || string(got) != "hello, world" {
		t.Errorf("object = %q, %v", got, ok)
	}
	if c := countsOf(s); c != (counts{put: 1}) {
		t.Errorf("requests %+v, want one Put", c)
	}
	info, err := s.Head(context.Background(), "dir/key")
	if err != nil || out.ETag != info.ETag {
		t.Errorf("Complete returned ETag %q, object has %q (%v)", out.ETag, info.ETag, err)
	}
	if w.Err() != nil || w.Size() != 12 {
		t.Errorf("after Complete: Err() = %v, Size() = %d", w.Err(), w.Size())
	}
}

func TestEmptyObject(t *testing.T) {
	s := memstore.New("b")
	s.PutObject("old", []byte("previous content"))
	w := upload.New(s, "old", ps, 4, discard)
	if _, err := w.Complete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Object("old"); !ok || len(got) != 0 {
		t.Errorf("object = %q, %v; want an empty object", got, ok)
	}
	if c := countsOf(s); c != (counts{put: 1}) {
		t.Errorf("requests %+v, want one Put", c)
	}
}

func TestPartBoundaries(t *testing.T) {
	// Chunks of odd sizes (0: one write) make writes span part boundaries.
	odd, small := 3<<20+1, 64<<10-3
	for _, tc := range []struct{ size, chunk int }{
		{1, 0}, {ps - 1, small}, {ps, 0}, {ps + 1, odd}, {2 * ps, small},
		{2*ps + 12345, 0}, {2*ps + 12345, odd}, {2*ps + 12345, small},
	} {
		size := tc.size
		t.Run(fmt.Sprintf("size%d/chunk%d", size, tc.chunk), func(t *testing.T) {
			s := memstore.New("b")
			r := &recorder{Client: s}
			w := upload.New(r, "k", ps, 2, discard)
			data := content(size)
			writeAll(t, w, data, tc.chunk)
			if _, ok := s.Object("k"); ok {
				t.Fatal("object visible before Complete")
			}
			out, err := w.Complete(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Object("k")
			if !ok || !bytes.Equal(got, data) {
				t.Fatalf("object has %d bytes (exists %v), want the %d written", len(got), ok, size)
			}
			nparts := size / ps
			if size%ps != 0 {
				nparts++
			}
			if size < ps { // smaller than one part: a single PUT
				if c := countsOf(s); c != (counts{put: 1}) {
					t.Errorf("requests %+v, want one Put", c)
				}
				return
			}
			if c := countsOf(s); c != (counts{create: 1, part: nparts, complete: 1}) {
				t.Errorf("requests %+v, want a multipart upload of %d parts", c, nparts)
			}
			var want []partCall
			for i := range nparts {
				want = append(want, partCall{int32(i + 1), min(ps, size-i*ps)})
			}
			if calls := r.sortedCalls(); !slices.Equal(calls, want) {
				t.Errorf("parts %v, want %v", calls, want)
			}
			if !strings.HasSuffix(out.ETag, fmt.Sprintf("-%d\"", nparts)) || s.PendingUploads() != 0 {
				t.Errorf("ETag %s, %d pending uploads", out.ETag, s.PendingUploads())
			}
		})
	}
}

func TestPartSizeBelowMinimumIsRaised(t *testing.T) {
	s := memstore.New("b")
	r := &recorder{Client: s}
	w := upload.New(r, "k", 1024, 0, discard) // maxInFlight 0 is raised to 1
	data := content(ps + 10)
	writeAll(t, w, data, 4096)
	if _, err := w.Complete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := r.sortedCalls(); !slices.Equal(calls, []partCall{{1, ps}, {2, 10}}) {
		t.Errorf("parts %v, want one of 5 MiB and one of 10 bytes", calls)
	}
	if got, _ := s.Object("k"); !bytes.Equal(got, data) {
		t.Error("object content differs")
	}
}

func TestOutOfOrderWriteAbandonsUpload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		written int   // bytes written in order first
		off     int64 // offset of the bad write
	}{
		{"first write not at 0", 0, 1},
		{"gap in a small file", 100, 101},
		{"rewind in a small file", 100, 50},
		{"rewrite from 0", 100, 0},
		{"gap after a part", ps + 100, ps + 200},
		{"rewind into an uploaded part", ps + 100, 10},
		{"rewind by one after a part", ps, ps - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("b")
			w := upload.New(s, "k", ps, 2, discard)
			writeAll(t, w, content(tc.written), 0)
			err := w.Write(context.Background(), []byte("x"), tc.off)
			if !errors.Is(err, upload.ErrOutOfOrder) {
				t.Fatalf("Write at %d after %d bytes = %v, want ErrOutOfOrder", tc.off, tc.written, err)
			}
			if s.PendingUploads() != 0 || len(s.Keys()) != 0 {
				t.Errorf("%d pending uploads, keys %q", s.PendingUploads(), s.Keys())
			}
			wantAbort := 0
			if tc.written >= ps {
				wantAbort = 1
			}
			if c := countsOf(s); c.abort != wantAbort || c.put != 0 || c.complete != 0 {
				t.Errorf("requests %+v, want %d abort and nothing completed", c, wantAbort)
			}
			// The failure is sticky: the same error, and still nothing in the bucket.
			if err2 := w.Write(context.Background(), []byte("y"), int64(tc.written)); err2 != err {
				t.Errorf("later in-order Write = %v, want %v", err2, err)
			}
			if _, err2 := w.Complete(context.Background()); err2 != err {
				t.Errorf("Complete = %v, want %v", err2, err)
			}
			if _, err2 := w.Complete(context.Background()); err2 != err {
				t.Errorf("second Complete = %v, want %v", err2, err)
			}
			if w.Err() != err {
				t.Errorf("Err() = %v, want %v", w.Err(), err)
			}
			w.Abort(context.Background())
			if c := countsOf(s); c.abort != wantAbort || c.put != 0 || c.complete != 0 || len(s.Keys()) != 0 {
				t.Errorf("after Complete and Abort: requests %+v, keys %q", c, s.Keys())
			}
		})
	}
}

func TestWriteAfterComplete(t *testing.T) {
	for _, size := range []int{0, 10, ps + 10} {
		s := memstore.New("b")
		w := upload.New(s, "k", ps, 2, discard)
		data := content(size)
		writeAll(t, w, data, 0)
		if _, err := w.Complete(context.Background()); err != nil {
			t.Fatal(err)
		}
		before := countsOf(s)
		if err := w.Write(context.Background(), []byte("more"), int64(size)); !errors.Is(err, upload.ErrFinished) {
			t.Errorf("size %d: Write after Complete = %v, want ErrFinished", size, err)
		}
		if _, err := w.Complete(context.Background()); !errors.Is(err, upload.ErrFinished) {
			t.Errorf("size %d: second Complete = %v, want ErrFinished", size, err)
		}
		w.Abort(context.Background()) // too late to abort: the object stays
		if got, ok := s.Object("k"); !ok || !bytes.Equal(got, data) || countsOf(s) != before {
			t.Errorf("size %d: after Complete, Write, Complete, Abort: object %d bytes (%v), requests %+v, then %+v",
				size, len(got), ok, before, countsOf(s))
		}
		if w.Err() != nil {
			t.Errorf("size %d: Err() = %v after a successful Complete", size, w.Err())
		}
	}
}

func TestAbort(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		wantAbort int
	}{
		{"nothing written", 0, 0},
		{"small", 1000, 0},
		{"one part", ps, 1},
		{"parts and a tail", 2*ps + 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("b")
			w := upload.New(s, "k", ps, 2, discard)
			writeAll(t, w, content(tc.size), 1<<20)
			w.Abort(context.Background())
			w.Abort(context.Background()) // idempotent
			if c := countsOf(s); c.abort != tc.wantAbort || c.put != 0 || c.complete != 0 {
				t.Errorf("requests %+v, want %d aborts and nothing completed", c, tc.wantAbort)
			}
			if s.PendingUploads() != 0 || len(s.Keys()) != 0 {
				t.Errorf("%d pending uploads, keys %q", s.PendingUploads(), s.Keys())
			}
			if err := w.Write(context.Background(), []byte("x"), int64(tc.size)); err == nil {
				t.Error("Write after Abort succeeded")
			}
			if _, err := w.Complete(context.Background()); err == nil {
				t.Error("Complete after Abort succeeded")
			}
			if w.Err() == nil {
				t.Error("Err() is nil after Abort")
			}
			if c := countsOf(s); c.put != 0 || c.complete != 0 || len(s.Keys()) != 0 {
				t.Errorf("after Abort, Write and Complete: requests %+v, keys %q", c, s.Keys())
			}
		})
	}
}

// release lets n stuck parts through, failing if nothing takes them.
func release(t *testing.T, r *recorder, n int) {
	t.Helper()
	for range n {
		select {
		case r.gate <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("no part upload is waiting")
		}
	}
}

// within runs fn and fails if it does not return in time.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return: it waits for a part upload", what)
	}
}

// Parts are uploaded while the writer goes on, and Complete waits for them.
func TestPartsUploadInBackground(t *testing.T) {
	s := memstore.New("b")
	r := &recorder{Client: s, gate: make(chan struct{})}
	w := upload.New(r, "k", ps, 2, discard)
	data := content(2*ps + 5)
	// Two parts fit in flight: both writes return while their parts are stuck.
	within(t, "Write of part 1", func() error { return w.Write(context.Background(), data[:ps], 0) })
	within(t, "Write of part 2 and a tail", func() error { return w.Write(context.Background(), data[ps:], ps) })
	if _, ok := s.Object("k"); ok || s.Count(memstore.OpUploadPart) != 0 {
		t.Fatal("parts reached the store through a closed gate")
	}
	done := make(chan error, 1)
	go func() { _, err := w.Complete(context.Background()); done <- err }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Complete returned %v while parts were still uploading", err)
	default:
	}
	release(t, r, 3)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Object("k"); !bytes.Equal(got, data) {
		t.Error("object content differs")
	}
	if peak := r.peak(); peak != 2 {
		t.Errorf("%d parts in flight at most, want 2", peak)
	}
}

// A part started by a Write is not cancelled when that Write's context ends.
func TestPartOutlivesWriteContext(t *testing.T) {
	s := memstore.New("b")
	r := &recorder{Client: s, gate: make(chan struct{})}
	w := upload.New(r, "k", ps, 2, discard)
	data := content(ps + 1)
	ctx, cancel := context.WithCancel(context.Background())
	within(t, "Write", func() error { return w.Write(ctx, data, 0) })
	cancel()
	release(t, r, 1)                     // the part reaches the store only now
	go func() { r.gate <- struct{}{} }() // the tail, uploaded by Complete
	if _, err := w.Complete(context.Background()); err != nil {
		t.Fatalf("Complete after the first Write's context ended: %v", err)
	}
	if got, _ := s.Object("k"); !bytes.Equal(got, data) {
		t.Error("object content differs")
	}
}
