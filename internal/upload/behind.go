package upload

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Behind uploads a file being written sequentially from offset 0 while the
// writer goes on, part by part, reading each part back from where the bytes
// are kept (POSIX mode's staged copy), so that the commit at close sends
// only the tail and completes. It is the staged counterpart of Writer: the
// bytes stay local, so an edit that breaks the sequence (a seek back, a
// truncation) simply abandons the upload (Abort) and the file is committed
// whole by Commit instead.
//
// Nothing is visible until Complete, whose condition is the commit's: an
// upload that is never completed is aborted, and no partial object appears.
type Behind struct {
	c    objstore.Client
	in   BehindInput
	sem  chan struct{}
	wg   sync.WaitGroup
	next int64 // bytes handed to part uploads so far
	num  int32 // parts started

	mu       sync.Mutex
	uploadID string          // GUARDED_BY(mu)
	parts    []objstore.Part // GUARDED_BY(mu)
	err      error           // GUARDED_BY(mu) the first failure
	done     func()          // GUARDED_BY(mu) Track's callback
}

// BehindInput describes the upload.
type BehindInput struct {
	Key         string
	Metadata    map[string]string // fixed when the upload starts
	Data        Source
	PartSize    int64
	MaxInFlight int
	Budget      *memory.Budget
	Log         *slog.Logger
	Track       func(key, uploadID string) (done func())
}

// NewBehind returns an upload that starts with the first full part.
func NewBehind(c objstore.Client, in BehindInput) *Behind {
	in.PartSize = max(in.PartSize, objstore.MinPartSize)
	if in.MaxInFlight < 1 {
		in.MaxInFlight = 1
	}
	if in.Budget == nil {
		in.Budget = memory.NewBudget(1 << 62)
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	return &Behind{c: c, in: in, sem: make(chan struct{}, in.MaxInFlight)}
}

// partSize grows every 1,000 parts, as Writer's do (see the package doc).
func (b *Behind) partSize() int64 {
	size := b.in.PartSize
	for n := int32(1000); n <= b.num; n += 1000 {
		size *= 2
	}
	return min(size, maxPartSize)
}

// Advance says the data now holds [0, size) written in order: every full
// part below size starts uploading. It waits only when MaxInFlight parts
// are on their way (backpressure on the writer).
func (b *Behind) Advance(ctx context.Context, size int64) error {
	for size-b.next >= b.partSize() {
		if err := b.failure(); err != nil {
			return err
		}
		if b.num == objstore.MaxParts-1 {
			return nil // the rest goes with Complete's last part
		}
		if err := b.start(ctx); err != nil {
			return err
		}
		off, n := b.next, b.partSize()
		b.next += n
		b.num++
		b.upload(ctx, b.num, off, off+n)
	}
	return nil
}

// start creates the multipart upload once.
func (b *Behind) start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.uploadID != "" {
		return nil
	}
	id, err := b.c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: b.in.Key, Metadata: b.in.Metadata})
	if err != nil {
		b.err = fmt.Errorf("create multipart upload: %w", err)
		return b.err
	}
	b.uploadID = id
	if b.in.Track != nil {
		b.done = b.in.Track(b.in.Key, id)
	}
	return nil
}

func (b *Behind) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// upload sends part number [off, end) in the background.
func (b *Behind) upload(ctx context.Context, number int32, off, end int64) {
	b.sem <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.sem; b.wg.Done() }()
		// The part outlives the write that completed it.
		ctx := context.WithoutCancel(ctx)
		body, release, err := readPart(ctx, CommitInput{Data: b.in.Data, Budget: b.in.Budget}, off, end)
		var part objstore.Part
		if err == nil {
			part, err = b.c.UploadPart(ctx, objstore.PartInput{Key: b.in.Key, UploadID: b.id(), Number: number,
				Body: body, ChecksumCRC32C: objstore.CRC32C(crc32.Checksum(body, castagnoli))})
			release()
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil {
			if b.err == nil {
				b.err = fmt.Errorf("upload part %d: %w", number, err)
			}
			return
		}
		part.Size = end - off
		b.parts = append(b.parts, part)
	}()
}

func (b *Behind) id() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.uploadID
}

// Started reports whether a multipart upload was created (else the file is
// small, and Commit's single PUT is the way).
func (b *Behind) Started() bool { return b.id() != "" }

// Complete sends [sent, size) as the last part and completes the upload
// with the commit's condition. It must follow an Advance(size). A failed
// condition is ErrConflict; on any failure the upload is aborted.
func (b *Behind) Complete(ctx context.Context, size int64, ifMatch string, ifNoneMatch bool) (objstore.PutOutput, error) {
	ctx = context.WithoutCancel(ctx)
	if size > b.next {
		b.num++
		b.upload(ctx, b.num, b.next, size)
		b.next = size
	}
	b.wg.Wait()
	if err := b.failure(); err != nil {
		b.Abort()
		return objstore.PutOutput{}, err
	}
	b.mu.Lock()
	parts := make([]objstore.Part, len(b.parts))
	for _, p := range b.parts {
		parts[p.Number-1] = p
	}
	id := b.uploadID
	b.mu.Unlock()
	out, err := b.c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: b.in.Key, UploadID: id, Parts: parts,
		IfMatch: ifMatch, IfNoneMatch: ifNoneMatch})
	if err != nil {
		b.Abort()
		err = fmt.Errorf("complete multipart upload: %w", err)
		if isConflict(err) {
			return objstore.PutOutput{}, fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return objstore.PutOutput{}, err
	}
	b.finish()
	return out, nil
}

// Abort gives the upload up: it is aborted on the server, and nothing is
// created. Safe to call more than once.
func (b *Behind) Abort() {
	b.wg.Wait()
	b.mu.Lock()
	id := b.uploadID
	b.uploadID = ""
	if b.err == nil {
		b.err = errors.New("upload abandoned")
	}
	b.mu.Unlock()
	if id != "" {
		abortUpload(context.Background(), b.c, b.in.Key, id, b.in.Log)
	}
	b.finish()
}

func (b *Behind) finish() {
	b.mu.Lock()
	done := b.done
	b.done = nil
	b.mu.Unlock()
	if done != nil {
		done()
	}
}
