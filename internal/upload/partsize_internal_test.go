package upload

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
)

const mib = 1 << 20

func TestCurrentPartSize(t *testing.T) {
	for _, tc := range []struct {
		partSize int64
		nextPart int32
		want     int64
	}{
		{8 * mib, 1, 8 * mib},
		{8 * mib, 2, 8 * mib},
		{8 * mib, 1000, 8 * mib},
		{8 * mib, 1001, 16 * mib},
		{8 * mib, 2000, 16 * mib},
		{8 * mib, 2001, 32 * mib},
		{8 * mib, 3001, 64 * mib},
		{8 * mib, 9001, 4096 * mib},
		{8 * mib, 10000, 4096 * mib},
		{5 * mib, 1, 5 * mib},
		{5 * mib, 1001, 10 * mib},
		{5 * mib, 10000, 2560 * mib},
		// Capped at S3's 5 GiB maximum part size.
		{64 * mib, 7001, 5 << 30},
		{64 * mib, 7000, 4096 * mib},
		{5 << 30, 1, 5 << 30},
		{5 << 30, 1001, 5 << 30},
		{3 << 30, 1001, 5 << 30},
	} {
		w := &Writer{partSize: tc.partSize, nextPart: tc.nextPart}
		if got := w.currentPartSize(); got != tc.want {
			t.Errorf("part size %d, part %d: currentPartSize() = %d, want %d", tc.partSize, tc.nextPart, got, tc.want)
		}
	}
}

// Part sizes of an object of the maximum part count must add up to S3's
// 5 TiB object limit with the default 8 MiB parts.
func TestPartSizesReachFiveTiB(t *testing.T) {
	w := &Writer{partSize: 8 * mib}
	var total int64
	for w.nextPart = 1; w.nextPart <= objstore.MaxParts; w.nextPart++ {
		total += w.currentPartSize()
	}
	if total < 5<<40 {
		t.Errorf("%d parts of 8 MiB and up hold %d bytes, less than 5 TiB", objstore.MaxParts, total)
	}
}

func TestNewClampsArguments(t *testing.T) {
	for _, tc := range []struct {
		partSize        int64
		maxInFlight     int
		wantPart        int64
		wantMaxInFlight int
	}{
		{0, 0, objstore.MinPartSize, 1},
		{1, -3, objstore.MinPartSize, 1},
		{objstore.MinPartSize - 1, 1, objstore.MinPartSize, 1},
		{objstore.MinPartSize, 4, objstore.MinPartSize, 4},
		{8 * mib, 16, 8 * mib, 16},
	} {
		w := New(memstore.New("b"), "k", tc.partSize, tc.maxInFlight, nil)
		if w.partSize != tc.wantPart || cap(w.sem) != tc.wantMaxInFlight {
			t.Errorf("New(%d, %d): part size %d, in flight %d; want %d and %d",
				tc.partSize, tc.maxInFlight, w.partSize, cap(w.sem), tc.wantPart, tc.wantMaxInFlight)
		}
		if w.nextPart != 1 || w.Size() != 0 || w.Err() != nil {
			t.Errorf("New: next part %d, size %d, err %v", w.nextPart, w.Size(), w.Err())
		}
	}
}

// partLog records the part numbers and sizes sent to UploadPart.
type partLog struct {
	objstore.Client
	mu    sync.Mutex
	sizes map[int32]int
}

func (p *partLog) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	p.mu.Lock()
	p.sizes[in.Number] = len(in.Body)
	p.mu.Unlock()
	return p.Client.UploadPart(ctx, in)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// Write cuts parts at the grown size once part 1000 has been sent.
func TestWriteUsesGrownPartSize(t *testing.T) {
	s := memstore.New("b")
	log := &partLog{Client: s, sizes: map[int32]int{}}
	w := New(log, "k", objstore.MinPartSize, 2, discard)
	w.nextPart = 1000 // as if 999 parts had been uploaded
	data := make([]byte, 3*objstore.MinPartSize+3)
	for off := 0; off < len(data); off += 777777 {
		if err := w.Write(context.Background(), data[off:min(off+777777, len(data))], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	w.wg.Wait()
	want := map[int32]int{1000: objstore.MinPartSize, 1001: 2 * objstore.MinPartSize}
	log.mu.Lock()
	got := log.sizes
	log.mu.Unlock()
	if len(got) != len(want) || got[1000] != want[1000] || got[1001] != want[1001] {
		t.Errorf("parts sent %v, want %v", got, want)
	}
	if len(w.buf) != 3 {
		t.Errorf("%d bytes buffered, want 3", len(w.buf))
	}
	w.Abort(context.Background())
	if s.PendingUploads() != 0 {
		t.Error("upload not aborted")
	}
}

// Part 10,000 is the last: bytes beyond it fail with ErrTooLarge and abort
// the upload. The part size is shrunk to keep the test small.
func TestTooManyParts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra int // bytes written after part 10,000
	}{
		{"a full part more", 1024},
		{"a few bytes more, found at Complete", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("b", memstore.WithMinPartSize(0))
			w := New(s, "k", objstore.MinPartSize, 2, discard)
			w.partSize = 1 // 512 bytes at part 10,000 and 1,024 after it
			w.nextPart = objstore.MaxParts
			if got := w.currentPartSize(); got != 512 {
				t.Fatalf("part size at part %d is %d", objstore.MaxParts, got)
			}
			if err := w.Write(context.Background(), make([]byte, 512), 0); err != nil {
				t.Fatalf("writing part %d: %v", objstore.MaxParts, err)
			}
			err := w.Write(context.Background(), make([]byte, tc.extra), 512)
			if err == nil {
				_, err = w.Complete(context.Background())
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v, want ErrTooLarge", err)
			}
			if s.Count(memstore.OpUploadPart) != 1 || s.PendingUploads() != 0 || len(s.Keys()) != 0 {
				t.Errorf("%d parts uploaded, %d uploads pending, keys %q; want part %d only, aborted",
					s.Count(memstore.OpUploadPart), s.PendingUploads(), s.Keys(), objstore.MaxParts)
			}
			if _, err2 := w.Complete(context.Background()); err2 != err {
				t.Errorf("Complete = %v, want %v", err2, err)
			}
		})
	}
}
