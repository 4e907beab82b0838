// Package prefetch reads one object for one open file handle.
//
// Every GET is pinned to the ETag seen when the file was opened (If-Match), so
// a read never mixes two versions of an object: if the object changes or is
// deleted while it is being read, the next GET fails with a precondition (or
// not-found) error, which the file system reports as ESTALE.
//
// Sequential reads are served from one streaming GET of the rest of the
// object; a short forward skip is read through and discarded instead of
// starting a new request. Any other access pattern uses a ranged GET of the
// requested span; if the next read continues where it ended, a stream is
// started from there.
//
// Every response is checked against what was asked: the range the server
// says it returned, the object size, and the number of bytes actually read.
// A short or mismatched body is an error, never short data.
package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// ErrChanged reports that the object is not the one the handle opened.
var ErrChanged = errors.New("object changed while it was being read")

// maxSkip is how far ahead of the stream a read may start and still reuse it.
const maxSkip = 1 << 20

// Reader reads one object version. It is safe for concurrent use; reads are
// served one at a time.
type Reader struct {
	client objstore.Client
	key    string
	etag   string
	size   int64

	mu        sync.Mutex
	stream    io.ReadCloser
	pos       int64 // offset of the next byte the stream will return
	streamEnd int64 // offset just past the stream's last byte
	lastEnd   int64 // where the previous read ended
	skipBuf   []byte
}

// New returns a reader of key at version etag, which has size bytes.
func New(client objstore.Client, key, etag string, size int64) *Reader {
	return &Reader{client: client, key: key, etag: etag, size: size, lastEnd: -1}
}

// Size is the size of the object version being read.
func (r *Reader) Size() int64 { return r.size }

// ReadAt fills p with bytes at off. It returns fewer bytes than len(p) only at
// the end of the object.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= r.size {
		return 0, nil
	}
	n := min(int64(len(p)), r.size-off)
	p = p[:n]

	r.mu.Lock()
	defer r.mu.Unlock()
	sequential := off == r.lastEnd || off == 0
	if r.stream != nil && (off < r.pos || off-r.pos > maxSkip || off+n > r.streamEnd) {
		r.closeStream()
	}
	if r.stream != nil && off > r.pos {
		if err := r.skip(off - r.pos); err != nil {
			r.closeStream()
			return 0, err
		}
	}
	if r.stream == nil {
		length := n
		if sequential {
			length = r.size - off
		}
		if err := r.open(ctx, off, length); err != nil {
			return 0, err
		}
	}
	got, err := io.ReadFull(r.stream, p)
	r.pos += int64(got)
	if err != nil {
		r.closeStream()
		return 0, fmt.Errorf("GET %q returned %d of %d bytes at offset %d: %w", r.key, got, n, off, shortErr(err))
	}
	r.lastEnd = off + n
	if r.pos == r.streamEnd {
		r.closeStream()
	}
	return int(n), nil
}

func shortErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// open starts a GET of [off, off+length) and checks the response's framing.
func (r *Reader) open(ctx context.Context, off, length int64) error {
	// The body outlives this read request; it is closed by later reads or Close.
	out, err := r.client.Get(context.WithoutCancel(ctx), objstore.GetInput{
		Key: r.key, Offset: off, Length: length, IfMatch: r.etag,
	})
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrNotFound) {
			return fmt.Errorf("%w: GET %q: %w", ErrChanged, r.key, err)
		}
		return fmt.Errorf("GET %q [%d, +%d): %w", r.key, off, length, err)
	}
	switch {
	case out.Info.ETag != "" && r.etag != "" && out.Info.ETag != r.etag:
		err = fmt.Errorf("%w: GET %q returned ETag %s, expected %s", ErrChanged, r.key, out.Info.ETag, r.etag)
	case out.Info.Size != r.size:
		err = fmt.Errorf("%w: GET %q reports size %d, expected %d", ErrChanged, r.key, out.Info.Size, r.size)
	case out.Offset != off || out.Length != length:
		err = fmt.Errorf("GET %q returned range [%d, +%d), asked for [%d, +%d)", r.key, out.Offset, out.Length, off, length)
	}
	if err != nil {
		out.Body.Close()
		return err
	}
	r.stream = out.Body
	r.pos = off
	r.streamEnd = off + length
	return nil
}

func (r *Reader) skip(n int64) error {
	if r.skipBuf == nil {
		r.skipBuf = make([]byte, 64<<10)
	}
	for n > 0 {
		m := min(n, int64(len(r.skipBuf)))
		got, err := io.ReadFull(r.stream, r.skipBuf[:m])
		r.pos += int64(got)
		if err != nil {
			return fmt.Errorf("GET %q ended early at offset %d: %w", r.key, r.pos, shortErr(err))
		}
		n -= m
	}
	return nil
}

func (r *Reader) closeStream() {
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
}

// Close releases the reader's connection.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeStream()
}
