package upload_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// Whatever the outcome, a finished writer holds no memory from the budget.
func TestBudgetReleasedWhenFinished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		failOp string // an operation that fails, or ""
		finish func(w *upload.Writer, size int) error
	}{
		{"small file completed", 100, "", complete},
		{"empty file completed", 0, "", complete},
		{"multipart completed", ps + 100, "", complete},
		{"exact parts completed", 2 * ps, "", complete},
		{"small file aborted", 100, "", abort},
		{"multipart aborted", ps + 100, "", abort},
		{"small out of order", 100, "", outOfOrder},
		{"multipart out of order", ps + 100, "", outOfOrder},
		{"put fails", 100, memstore.OpPut, complete},
		{"part fails", 2*ps + 1, memstore.OpUploadPart, complete},
		{"create fails", ps + 1, memstore.OpCreateMultipartUpload, complete},
		{"complete fails", ps + 1, memstore.OpCompleteMultipartUpload, complete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("b")
			f := objstoretest.NewFaulty(s)
			if tc.failOp != "" {
				failNth(f, tc.failOp, 1)
			}
			b := memory.NewBudget(64 << 20)
			w := upload.New(f, "k", ps, 2, discard, upload.WithBudget(b))
			data := content(tc.size)
			err := writeUntilError(w, data, 1<<20)
			if err == nil {
				if b.Used() == 0 && tc.size%ps != 0 {
					t.Errorf("%d bytes buffered without a reservation", tc.size%ps)
				}
				err = tc.finish(w, tc.size)
			}
			if wantErr := tc.failOp != "" || strings.Contains(tc.name, "out of order"); (err != nil) != wantErr {
				t.Errorf("error %v, want an error: %v", err, wantErr)
			}
			if n := b.Used(); n != 0 {
				t.Errorf("%d bytes still reserved after the writer finished (err %v)", n, err)
			}
			if b.Peak() > int64(2*ps+ps) {
				t.Errorf("peak %d bytes reserved for 2 parts in flight and 1 filling", b.Peak())
			}
		})
	}
}

func complete(w *upload.Writer, _ int) error {
	_, err := w.Complete(context.Background())
	return err
}

func abort(w *upload.Writer, _ int) error {
	w.Abort(context.Background())
	return nil
}

func outOfOrder(w *upload.Writer, size int) error {
	return w.Write(context.Background(), []byte("x"), int64(size)+1)
}

// When the budget is spent, Write waits for parts in flight to finish
// (backpressure) instead of buffering more.
func TestBudgetBackpressure(t *testing.T) {
	s := memstore.New("b")
	r := &recorder{Client: s, gate: make(chan struct{})}
	b := memory.NewBudget(2 * ps)
	w := upload.New(r, "k", ps, 3, discard, upload.WithBudget(b))
	data := content(2*ps + 10)
	// Two parts in flight hold the whole budget.
	within(t, "Write of two parts", func() error { return w.Write(context.Background(), data[:2*ps], 0) })
	if b.Used() != 2*ps {
		t.Fatalf("%d bytes reserved with two parts in flight, want %d", b.Used(), 2*ps)
	}
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), data[2*ps:], 2*ps) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Write returned %v with the budget spent", err)
	default:
	}
	release(t, r, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	release(t, r, 1)
	go func() { r.gate <- struct{}{} }() // the tail, uploaded by Complete
	if _, err := w.Complete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Object("k"); !bytes.Equal(got, data) {
		t.Error("object content differs")
	}
	if b.Used() != 0 || b.Peak() > 2*ps {
		t.Errorf("budget used %d, peak %d; want 0 and at most %d", b.Used(), b.Peak(), 2*ps)
	}
}

// capacities records the capacity of every part body sent, and how many
// bytes the budget had reserved at that moment.
type capacities struct {
	objstore.Client
	budget *memory.Budget
	mu     sync.Mutex
	caps   []int
	used   []int64
}

func (c *capacities) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	c.mu.Lock()
	c.caps = append(c.caps, cap(in.Body))
	c.used = append(c.used, c.budget.Used())
	c.mu.Unlock()
	return c.Client.UploadPart(ctx, in)
}

// A part size that is neither a power of two nor whole MiB still reserves
// all the memory its buffers hold (a reservation short of the buffers let
// the heap outgrow the Go memory limit, and the collector then ran without
// pause: a 1 GiB write with 10 MiB parts ran at half the speed of 8 MiB).
func TestReservationCoversTheBuffers(t *testing.T) {
	const part = 10<<20 + 12345
	b := memory.NewBudget(1 << 30)
	c := &capacities{Client: memstore.New("b"), budget: b}
	w := upload.New(c, "k", part, 1, discard, upload.WithBudget(b))
	writeAll(t, w, content(3*part+100), 1<<20)
	if _, err := w.Complete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.caps) != 4 {
		t.Fatalf("%d parts, want 4", len(c.caps))
	}
	for i, n := range c.caps {
		if int64(n) != memory.BufferSize(part) {
			t.Errorf("part %d in a buffer of %d bytes, want %d", i+1, n, memory.BufferSize(part))
		}
		if c.used[i] < int64(n) {
			t.Errorf("part %d: %d bytes reserved while its buffer of %d bytes is held", i+1, c.used[i], n)
		}
	}
}
