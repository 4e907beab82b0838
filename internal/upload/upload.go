// Package upload turns one sequential stream of writes into one S3 object.
//
// Buffers come from the mount's memory budget (internal/memory): a part
// buffer starts small and doubles up to the part size, so many small files
// written at once cost little; when the budget is spent, Write waits for
// uploads in flight to finish (backpressure) rather than growing the process.
//
// Writes must arrive in order, each starting where the previous one ended
// (S3 objects cannot be patched). Bytes are gathered into parts of the
// configured size; the first full part starts a multipart upload and each full
// part is uploaded in the background while the writer goes on, at most
// maxInFlight at a time. An object smaller than one part is a single PutObject
// at Complete. Nothing is visible in the bucket until Complete succeeds: on any
// failure the multipart upload is aborted, so no partial object appears.
//
// Part sizes grow so that objects up to 5 TiB fit in S3's 10,000 parts: after
// every 1,000 parts the part size doubles (with 8 MiB parts: 8 MiB × 1000 +
// 16 MiB × 1000 + ... reaches 5 TiB well before part 10,000).
package upload

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// castagnoli is CRC32C's table. Each part's checksum is computed in Write,
// right after the bytes were copied into the part, while they are still in
// the CPU's cache: the SDK would otherwise read the whole part again from
// memory before sending it, which cost 0.2 core-seconds per GiB written (a
// fifth of the process's CPU); here it costs about 0.03.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxMemoryWait bounds how long a writer waits for the memory budget.
const maxMemoryWait = time.Second

// ErrOutOfOrder is returned when a write does not start at the end of the data written so far.
var ErrOutOfOrder = errors.New("out-of-order write: files can only be written sequentially from offset 0")

// ErrTooLarge is returned when the object would exceed S3's 10,000 parts.
var ErrTooLarge = errors.New("object too large for a multipart upload")

// ErrFinished is returned by Write and Complete after Complete succeeded
// (after Abort or a failure they return that failure).
var ErrFinished = errors.New("upload already finished")

// Writer uploads one object. Write, Complete and Abort must not be called
// concurrently (the file handle serializes them); background part uploads
// are internal.
type Writer struct {
	client   objstore.Client
	key      string
	partSize int64
	log      *slog.Logger
	budget   *memory.Budget

	buf      []byte // the part being filled
	reserved int64  // budget bytes held for buf
	written  int64
	crc      uint32 // CRC32C of buf, computed as the bytes arrive
	finished bool
	err      error // first failure; sticky

	// multipart state
	uploadID string
	nextPart int32
	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex // guards parts and asyncErr
	parts    []objstore.Part
	asyncErr error
}

// Option configures a Writer.
type Option func(*Writer)

// WithBudget makes the writer's buffers count against b (default: unlimited).
func WithBudget(b *memory.Budget) Option { return func(w *Writer) { w.budget = b } }

// New returns a writer for key. partSize below S3's 5 MiB minimum is raised to it.
func New(client objstore.Client, key string, partSize int64, maxInFlight int, log *slog.Logger, opts ...Option) *Writer {
	if partSize < objstore.MinPartSize {
		partSize = objstore.MinPartSize
	}
	if maxInFlight < 1 {
		maxInFlight = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{client: client, key: key, partSize: partSize, log: log,
		nextPart: 1, sem: make(chan struct{}, maxInFlight)}
	for _, o := range opts {
		o(w)
	}
	if w.budget == nil {
		w.budget = memory.NewBudget(1 << 62)
	}
	return w
}

// Size is the number of bytes accepted so far.
func (w *Writer) Size() int64 { return w.written }

// Err is the sticky failure, if any.
func (w *Writer) Err() error { return w.err }

// currentPartSize grows the part size every 1,000 parts (see package doc).
func (w *Writer) currentPartSize() int64 {
	size := w.partSize
	for n := int32(1000); n < w.nextPart; n += 1000 {
		size *= 2
	}
	if size > 5<<30 { // S3's maximum part size
		size = 5 << 30
	}
	return size
}

// Write appends p, which must start at offset off == Size(). An out-of-order
// write aborts the upload: the file will not be created.
func (w *Writer) Write(ctx context.Context, p []byte, off int64) error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return ErrFinished
	}
	if off != w.written {
		w.fail(ctx, fmt.Errorf("%w (write at offset %d, expected %d)", ErrOutOfOrder, off, w.written))
		return w.err
	}
	for len(p) > 0 {
		ps := w.currentPartSize()
		n := min(int64(len(p)), ps-int64(len(w.buf)))
		if err := w.grow(ctx, int64(len(w.buf))+n, ps); err != nil {
			w.fail(ctx, err)
			return w.err
		}
		w.buf = append(w.buf, p[:n]...)
		w.crc = crc32.Update(w.crc, castagnoli, p[:n])
		w.written += n
		p = p[n:]
		if int64(len(w.buf)) == ps {
			if err := w.flushPart(ctx); err != nil {
				w.fail(ctx, err)
				return w.err
			}
		}
	}
	return nil
}

// grow makes room in buf for size bytes: capacity doubles (from 64 KiB) up
// to the part size; once a multipart upload runs, parts are full-sized.
//
// Only a writer that holds no buffer waits for the budget, and for at most
// maxMemoryWait: long enough for uploads in flight to free memory (the
// backpressure), never forever on memory held by other files' half-filled
// buffers, which only their applications can release. Growing a buffer it
// already holds overdraws: waiting there could deadlock on memory it holds
// itself. Either way the excess is bounded by one part per open file.
func (w *Writer) grow(ctx context.Context, size, partSize int64) error {
	if size <= int64(cap(w.buf)) {
		return nil
	}
	newCap := max(int64(cap(w.buf))*2, 64<<10, size)
	if w.uploadID != "" {
		newCap = partSize
	}
	newCap = memory.BufferSize(min(newCap, partSize)) // what the buffer will hold
	if w.reserved == 0 {
		if err := w.budget.ReserveWithin(ctx, newCap, maxMemoryWait); err != nil {
			return fmt.Errorf("waiting for memory: %w", err)
		}
	} else {
		w.budget.Overdraw(newCap - w.reserved)
	}
	nb := w.budget.GetBuffer(int(newCap))[:len(w.buf)]
	copy(nb, w.buf)
	if w.buf != nil {
		w.budget.PutBuffer(w.buf)
	}
	w.buf, w.reserved = nb, newCap
	return nil
}

// releaseBuf gives buf and its reservation back. The slice must not be used afterwards.
func (w *Writer) releaseBuf() {
	if w.buf != nil {
		w.budget.PutBuffer(w.buf)
	}
	w.budget.Release(w.reserved)
	w.buf, w.reserved, w.crc = nil, 0, 0
}

// flushPart starts the multipart upload if needed and uploads the buffered
// part in the background.
func (w *Writer) flushPart(ctx context.Context) error {
	if err := w.asyncError(); err != nil {
		return err
	}
	if w.nextPart > objstore.MaxParts {
		return ErrTooLarge
	}
	if w.uploadID == "" {
		id, err := w.client.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: w.key})
		if err != nil {
			return fmt.Errorf("create multipart upload: %w", err)
		}
		w.uploadID = id
	}
	body, reserved, crc := w.buf, w.reserved, w.crc
	w.buf, w.reserved, w.crc = nil, 0, 0
	number := w.nextPart
	w.nextPart++
	w.sem <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer func() {
			w.budget.PutBuffer(body)
			w.budget.Release(reserved)
			<-w.sem
			w.wg.Done()
		}()
		// The part outlives the write call that filled it: it must not be
		// cancelled when that request's context ends.
		part, err := w.client.UploadPart(context.WithoutCancel(ctx), objstore.PartInput{
			Key: w.key, UploadID: w.uploadID, Number: number, Body: body, ChecksumCRC32C: objstore.CRC32C(crc)})
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.asyncErr == nil {
				w.asyncErr = fmt.Errorf("upload part %d: %w", number, err)
			}
			return
		}
		part.Size = int64(len(body))
		w.parts = append(w.parts, part)
	}()
	return nil
}

func (w *Writer) asyncError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.asyncErr
}

// Complete uploads what remains and makes the object visible. It returns the
// new object's ETag. After a failure the upload is aborted and the same error
// is returned again on later calls.
func (w *Writer) Complete(ctx context.Context) (objstore.PutOutput, error) {
	if w.err != nil {
		return objstore.PutOutput{}, w.err
	}
	if w.finished {
		return objstore.PutOutput{}, ErrFinished
	}
	w.finished = true
	ctx = context.WithoutCancel(ctx) // a completed upload must not be half-cancelled
	if w.uploadID == "" {
		out, err := w.client.Put(ctx, objstore.PutInput{Key: w.key, Body: w.buf, ChecksumCRC32C: objstore.CRC32C(w.crc)})
		w.releaseBuf()
		if err != nil {
			w.err = fmt.Errorf("put object: %w", err)
			return out, w.err
		}
		return out, nil
	}
	if len(w.buf) > 0 {
		if err := w.flushPart(ctx); err != nil {
			w.fail(ctx, err)
			return objstore.PutOutput{}, w.err
		}
	}
	w.wg.Wait()
	if err := w.asyncError(); err != nil {
		w.fail(ctx, err)
		return objstore.PutOutput{}, w.err
	}
	parts := w.sortedParts()
	out, err := w.client.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: w.key, UploadID: w.uploadID, Parts: parts})
	if err != nil {
		w.fail(ctx, fmt.Errorf("complete multipart upload: %w", err))
		return objstore.PutOutput{}, w.err
	}
	return out, nil
}

func (w *Writer) sortedParts() []objstore.Part {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts := make([]objstore.Part, len(w.parts))
	for _, p := range w.parts {
		parts[p.Number-1] = p
	}
	return parts
}

// Abort gives the upload up: nothing will be created, and a started
// multipart upload is aborted on the server.
func (w *Writer) Abort(ctx context.Context) {
	if w.err == nil && !w.finished {
		w.fail(ctx, errors.New("upload aborted"))
	}
}

// fail records err (the first one wins) and aborts the multipart upload.
func (w *Writer) fail(ctx context.Context, err error) {
	if w.err == nil {
		w.err = err
	}
	w.finished = true
	w.releaseBuf()
	w.wg.Wait()
	if w.uploadID != "" {
		id := w.uploadID
		w.uploadID = ""
		abortUpload(ctx, w.client, w.key, id, w.log)
	}
}

// abortUpload aborts a multipart upload that will not be completed; a
// failure is logged (the bucket's lifecycle rule reclaims what is left).
func abortUpload(ctx context.Context, c objstore.Client, key, id string, log *slog.Logger) {
	if err := c.AbortMultipartUpload(context.WithoutCancel(ctx), key, id); err != nil {
		log.Warn("abort multipart upload failed; the bucket's lifecycle rule for incomplete uploads will clean it up",
			"key", key, "upload_id", id, "error", err)
	}
}
