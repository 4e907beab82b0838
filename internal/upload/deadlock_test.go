package upload_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// A writer growing its buffer must not wait for memory only it holds, nor
// two writers for each other's half-grown buffers.
func TestBudgetNeverDeadlocksWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	b := memory.NewBudget(1 << 20) // smaller than one part
	w := upload.New(memstore.New("b"), "k", 5<<20, 1, nil, upload.WithBudget(b))
	if err := w.Write(ctx, make([]byte, 2<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, make([]byte, 6<<20), 2<<20); err != nil {
		t.Fatalf("a part larger than the budget: %v", err)
	}
	if _, err := w.Complete(ctx); err != nil {
		t.Fatal(err)
	}

	b = memory.NewBudget(8 << 20)
	s := memstore.New("b")
	var ws []*upload.Writer
	for _, k := range []string{"a", "b", "c", "d"} {
		w := upload.New(s, k, 5<<20, 1, nil, upload.WithBudget(b))
		if err := w.Write(ctx, make([]byte, 3<<20), 0); err != nil { // the budget is now over-full
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ws))
	for _, w := range ws {
		wg.Add(1)
		go func(w *upload.Writer) {
			defer wg.Done()
			if err := w.Write(ctx, make([]byte, 9<<20), 3<<20); err != nil {
				errs <- err
				return
			}
			_, err := w.Complete(ctx)
			errs <- err
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent writers on a full budget: %v", err)
		}
	}
	if used := b.Used(); used != 0 {
		t.Fatalf("budget leak: %d", used)
	}
}
