package upload_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
	"github.com/bucketfs/bucketfs/internal/upload"
)

var errInjected = fmt.Errorf("injected: %w", objstore.ErrThrottled)

// failNth makes the nth call (from 1) of op fail with errInjected, and counts the calls.
func failNth(f *objstoretest.Faulty, op string, nth int32) *atomic.Int32 {
	var calls atomic.Int32
	f.Inject(func(o, key string) error {
		if o == op && calls.Add(1) == nth {
			return errInjected
		}
		return nil
	})
	return &calls
}

// writeUntilError writes data in chunks and returns the first error.
func writeUntilError(w *upload.Writer, data []byte, chunk int) error {
	for off := 0; off < len(data); off += chunk {
		if err := w.Write(context.Background(), data[off:min(off+chunk, len(data))], int64(off)); err != nil {
			return err
		}
	}
	return nil
}

// checkFailed checks that the writer failed with err (wrapping want) for
// good, that nothing replaced the object "k" (seeded with "old") and that no
// multipart upload is left on the server.
func checkFailed(t *testing.T, s *memstore.Store, w *upload.Writer, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want one wrapping %v", err, want)
	}
	if w.Err() != err {
		t.Errorf("Err() = %v, want %v", w.Err(), err)
	}
	if err2 := w.Write(context.Background(), []byte("x"), w.Size()); err2 != err {
		t.Errorf("Write after the failure = %v, want %v", err2, err)
	}
	if _, err2 := w.Complete(context.Background()); err2 != err {
		t.Errorf("Complete after the failure = %v, want %v", err2, err)
	}
	if got, _ := s.Object("k"); string(got) != "old" {
		t.Errorf("object k has %d bytes, want the old content", len(got))
	}
	if n := s.PendingUploads(); n != 0 {
		t.Errorf("%d multipart uploads left pending", n)
	}
}

func seeded() (*memstore.Store, *objstoretest.Faulty) {
	s := memstore.New("b")
	s.PutObject("k", []byte("old"))
	return s, objstoretest.NewFaulty(s)
}

func TestUploadPartFailure(t *testing.T) {
	for _, tc := range []struct {
		failPart    int32 // which UploadPart call fails
		maxInFlight int
	}{{1, 1}, {2, 1}, {3, 1}, {1, 3}, {3, 3}} {
		t.Run(fmt.Sprintf("part%d/inflight%d", tc.failPart, tc.maxInFlight), func(t *testing.T) {
			s, f := seeded()
			failNth(f, memstore.OpUploadPart, tc.failPart)
			w := upload.New(f, "k", ps, tc.maxInFlight, discard)
			// Three parts; the last is uploaded by Complete.
			err := writeUntilError(w, content(2*ps+7), 1<<20)
			if err == nil {
				_, err = w.Complete(context.Background())
			}
			checkFailed(t, s, w, err, objstore.ErrThrottled)
			if c := countsOf(s); c.create != 1 || c.complete != 0 || c.abort != 1 {
				t.Errorf("requests %+v, want the upload created and aborted", c)
			}
		})
	}
}

// A part that failed in the background fails the next part's Write: the
// writer does not go on uploading an object that can no longer be completed.
func TestUploadPartFailureStopsLaterWrites(t *testing.T) {
	s, f := seeded()
	failNth(f, memstore.OpUploadPart, 1)
	w := upload.New(f, "k", ps, 1, discard)
	data := content(3 * ps)
	// With one part in flight, part 2 starts only once part 1 has failed,
	// so the Write of part 3 at the latest must see the failure.
	err := writeUntilError(w, data, ps)
	if err == nil {
		t.Fatal("all three parts written after part 1 failed")
	}
	checkFailed(t, s, w, err, objstore.ErrThrottled)
	if n := s.Count(memstore.OpUploadPart); n > 2 {
		t.Errorf("%d parts reached the store after part 1 failed", n)
	}
}

func TestCreateMultipartUploadFailure(t *testing.T) {
	s, f := seeded()
	failNth(f, memstore.OpCreateMultipartUpload, 1)
	w := upload.New(f, "k", ps, 2, discard)
	err := writeUntilError(w, content(ps+1), 1<<20)
	if err == nil {
		t.Fatal("writing a full part succeeded without a multipart upload")
	}
	if w.Size() > ps {
		t.Errorf("Size() = %d after the failed part", w.Size())
	}
	checkFailed(t, s, w, err, objstore.ErrThrottled)
	if c := countsOf(s); c.part != 0 || c.complete != 0 || c.put != 0 || c.abort != 0 {
		t.Errorf("requests %+v after CreateMultipartUpload failed", c)
	}
}

func TestCompleteMultipartUploadFailure(t *testing.T) {
	for _, size := range []int{ps, 2*ps + 1} {
		s, f := seeded()
		failNth(f, memstore.OpCompleteMultipartUpload, 1)
		w := upload.New(f, "k", ps, 2, discard)
		writeAll(t, w, content(size), 0)
		_, err := w.Complete(context.Background())
		checkFailed(t, s, w, err, objstore.ErrThrottled)
		if c := countsOf(s); c.complete != 0 || c.abort != 1 {
			t.Errorf("size %d: requests %+v, want one abort", size, c)
		}
	}
}

func TestPutFailure(t *testing.T) {
	for _, size := range []int{0, 1, ps - 1} {
		s, f := seeded()
		failNth(f, memstore.OpPut, 1)
		w := upload.New(f, "k", ps, 2, discard)
		writeAll(t, w, content(size), 0)
		_, err := w.Complete(context.Background())
		checkFailed(t, s, w, err, objstore.ErrThrottled)
		if c := countsOf(s); c != (counts{}) {
			t.Errorf("size %d: requests %+v reached the store", size, c)
		}
	}
}

// A failed abort is logged, and the caller sees the failure that caused it.
func TestAbortFailureIsLoggedNotReturned(t *testing.T) {
	s, f := seeded()
	failNth(f, memstore.OpAbortMultipartUpload, 1)
	var logged bytes.Buffer
	w := upload.New(f, "k", ps, 2, slog.New(slog.NewTextHandler(&logged, nil)))
	writeAll(t, w, content(ps+1), 0)
	err := w.Write(context.Background(), []byte("x"), 0)
	if !errors.Is(err, upload.ErrOutOfOrder) || errors.Is(err, objstore.ErrThrottled) {
		t.Fatalf("Write = %v, want ErrOutOfOrder only", err)
	}
	if _, err2 := w.Complete(context.Background()); err2 != err {
		t.Errorf("Complete = %v, want %v", err2, err)
	}
	if log := logged.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "key=k") {
		t.Errorf("log %q has no warning about the upload of k", log)
	}
	if c := countsOf(s); c.abort != 0 || c.complete != 0 || s.PendingUploads() != 1 {
		t.Errorf("requests %+v, %d pending uploads; want the upload left to the lifecycle rule",
			c, s.PendingUploads())
	}
	if got, _ := s.Object("k"); string(got) != "old" {
		t.Error("object k replaced")
	}
}

// At most maxInFlight parts upload at once, and that many do.
func TestConcurrencyLimit(t *testing.T) {
	for _, maxInFlight := range []int{1, 2} {
		s := memstore.New("b")
		f := objstoretest.NewFaulty(s)
		f.SetLatency(30 * time.Millisecond)
		r := &recorder{Client: f}
		w := upload.New(r, "k", ps, maxInFlight, discard)
		data := content(2*ps + 1)
		writeAll(t, w, data, 1<<20)
		if _, err := w.Complete(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Object("k"); !bytes.Equal(got, data) {
			t.Errorf("maxInFlight %d: object content differs", maxInFlight)
		}
		if peak := r.peak(); peak != maxInFlight {
			t.Errorf("maxInFlight %d: at most %d parts uploaded at once", maxInFlight, peak)
		}
		if n := len(r.sortedCalls()); n != 3 {
			t.Errorf("maxInFlight %d: %d UploadPart calls, want 3", maxInFlight, n)
		}
	}
}
