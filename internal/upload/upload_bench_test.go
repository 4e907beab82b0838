package upload_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// BenchmarkSequentialWrite writes 64 MiB in 1 MiB writes (as FUSE delivers
// them) to an object store with 5 ms of latency per request: parts must
// upload in parallel while the writer goes on.
func BenchmarkSequentialWrite(b *testing.B) {
	const size = 64 << 20
	fault := &sink{latency: 5 * time.Millisecond}
	budget := memory.NewBudget(128 << 20)
	chunk := make([]byte, 1<<20)
	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := upload.New(fault, "k", 8<<20, 8, slog.New(slog.DiscardHandler), upload.WithBudget(budget))
		for off := int64(0); off < size; off += int64(len(chunk)) {
			if err := w.Write(ctx, chunk, off); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Complete(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if used := budget.Used(); used != 0 {
		b.Fatalf("budget leak: %d bytes", used)
	}
}

// sink is an object store that accepts uploads after a fixed latency and
// keeps nothing, so the benchmark measures the uploader, not a fake's copying.
type sink struct {
	objstore.Client // other methods are not used
	latency         time.Duration
}

func (s *sink) CreateMultipartUpload(ctx context.Context, in objstore.CreateMultipartInput) (string, error) {
	time.Sleep(s.latency)
	return "id", nil
}

func (s *sink) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	time.Sleep(s.latency)
	return objstore.Part{Number: in.Number, ETag: `"e"`}, nil
}

func (s *sink) CompleteMultipartUpload(ctx context.Context, in objstore.CompleteInput) (objstore.PutOutput, error) {
	time.Sleep(s.latency)
	return objstore.PutOutput{ETag: `"e-8"`}, nil
}

func (s *sink) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	time.Sleep(s.latency)
	return objstore.PutOutput{ETag: `"e"`}, nil
}
