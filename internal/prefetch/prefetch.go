// Package prefetch reads one object for one open file handle, fetching ahead
// of sequential readers with parallel ranged GETs.
//
// # Versions
//
// Every GET is pinned to the ETag seen when the file was opened (If-Match), so
// a read never mixes two versions of an object: if the object changes or is
// deleted while it is being read, the next GET fails (412 or 404) and the
// read reports ErrChanged (ESTALE to the application), as do all later reads.
//
// # Sequential reads
//
// A read at offset 0, or one that continues where the previous read ended,
// starts a stream: a queue of chunks, each one ranged GET, fetched in
// parallel ahead of the reader. The first chunk is small (InitialChunk), so
// `head -c` and small files cost one short GET and time to first byte is one
// GET's latency; each next chunk doubles up to PartSize. The window (bytes
// scheduled ahead of the reader) starts at InitialChunk and doubles each
// time the reader moves into a new chunk, up to MaxWindow. Reads that land
// inside the window — the kernel's concurrent read-ahead requests arriving out
// of order, small forward skips, backward seeks into the chunk just read —
// are served without a new request.
//
// # Random reads
//
// A read outside the window (a seek) drops the stream and is served by one
// ranged GET of just the bytes asked for (at least MinRandomRead). If the
// next read continues where that one ended, a new stream starts there.
//
// # Memory
//
// Chunks draw from the mount's memory.Budget. Read-ahead is only scheduled
// while the budget has room, so under pressure windows shrink; the chunk a
// read is waiting on is always fetched (it overdraws). Buffers are recycled.
//
// # Checks
//
// Every response is checked against what was asked: the range the server
// says it returned, the object size, the ETag and the number of bytes actually
// read. A short or mismatched body is an error, never short data.
package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// ErrChanged reports that the object is not the one the handle opened.
var ErrChanged = errors.New("object changed while it was being read")

// Config tunes a Reader. Zero fields take the defaults below.
type Config struct {
	PartSize      int64 // largest chunk, one GET (--read-part-size); default 8 MiB
	InitialChunk  int64 // first chunk of a stream; default 256 KiB
	MaxWindow     int64 // most bytes fetched ahead of the reader; default 64 MiB
	MinRandomRead int64 // smallest GET for a random read; default 64 KiB
}

func (c Config) withDefaults() Config {
	if c.PartSize <= 0 {
		c.PartSize = 8 << 20
	}
	if c.InitialChunk <= 0 {
		c.InitialChunk = 256 << 10
	}
	c.InitialChunk = min(c.InitialChunk, c.PartSize)
	if c.MaxWindow <= 0 {
		c.MaxWindow = 64 << 20
	}
	c.MaxWindow = max(c.MaxWindow, c.PartSize)
	if c.MinRandomRead <= 0 {
		c.MinRandomRead = 64 << 10
	}
	return c
}

// chunk is one ranged GET of [off, end).
type chunk struct {
	off, end int64
	cancel   context.CancelFunc // stops the GET when the chunk is dropped unread
	buf      []byte
	mem      *memory.Stream // the stream's claim on the budget, which reserved holds
	reserved int64          // budget bytes held
	done     chan struct{}  // closed when buf is filled or err is set
	err      error
	refs     int  // reads copying out of buf; GUARDED_BY(Reader.mu)
	dropped  bool // no longer in the queue; GUARDED_BY(Reader.mu)
}

// maxStreams is how many sequential streams one reader follows at once:
// several processes reading one file at different places each keep their
// read-ahead, and readers in step share one.
const maxStreams = 4

// stream is one sequential read-ahead: a queue of chunks.
type stream struct {
	chunks    []*chunk // contiguous, ascending
	next      int64    // end of the last scheduled chunk
	nextSize  int64    // size of the next chunk to schedule
	window    int64    // bytes to keep scheduled ahead of the reader
	lastEnd   int64    // where the previous read served by this stream ended
	streaming bool     // false: a placeholder remembering where a random read ended
	used      uint64   // last use, for eviction
	mem       *memory.Stream
	largest   int64 // the largest chunk the stream's share allows now (scheduleLocked)
}

// Reader reads one object version. It is safe for concurrent use, and may be
// shared by every open handle of the same object version: their reads then
// share the fetched chunks.
type Reader struct {
	client objstore.Client
	key    string
	etag   string
	size   int64
	cfg    Config
	budget *memory.Budget

	mu       sync.Mutex
	streams  []*stream
	clock    uint64
	err      error // sticky ErrChanged
	closed   bool
	inflight sync.WaitGroup

	ctx    context.Context // GETs of the streams; cancelled by Close
	cancel context.CancelFunc

	// content is the whole object when it came with its stat
	// (NewFromContent): reads are served from it, without requests.
	content []byte
	release func() // returns content's memory; called once by Close
}

// New returns a reader of key at version etag, which has size bytes. budget
// may be nil (no limit).
func New(client objstore.Client, key, etag string, size int64, cfg Config, budget *memory.Budget) *Reader {
	if budget == nil {
		budget = memory.NewBudget(1 << 62)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Reader{client: client, key: key, etag: etag, size: size, cfg: cfg.withDefaults(), budget: budget,
		ctx: ctx, cancel: cancel}
}

// NewFromContent returns a reader of an object version whose whole content
// is already in memory (a small file fetched with its stat): reads are views
// of data and send no request. Close calls release, which returns the
// memory data was counted against; data must not change afterwards.
func NewFromContent(key, etag string, data []byte, release func()) *Reader {
	ctx, cancel := context.WithCancel(context.Background())
	return &Reader{key: key, etag: etag, size: int64(len(data)), cfg: Config{}.withDefaults(),
		content: data, release: release, ctx: ctx, cancel: cancel}
}

// Size is the size of the object version being read.
func (r *Reader) Size() int64 { return r.size }

// ReadAt fills p with bytes at off. It returns fewer bytes than len(p) only at
// the end of the object.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	data, release, err := r.ReadView(ctx, p, off)
	if err != nil {
		return 0, err
	}
	n := copy(p, data)
	release()
	return n, nil
}

// ReadView returns the bytes at off, at most len(p) of them and fewer only at
// the end of the object. When they lie in one fetched chunk, data is a view of
// the chunk's buffer, valid until release is called (no copy: the FUSE reply
// is written straight from it); otherwise they are copied into p. release
// must be called exactly once when err is nil.
func (r *Reader) ReadView(ctx context.Context, p []byte, off int64) (data []byte, release func(), err error) {
	nop := func() {}
	if off < 0 {
		return nil, nil, fmt.Errorf("negative offset %d", off)
	}
	if off >= r.size {
		return p[:0], nop, nil
	}
	n := min(int64(len(p)), r.size-off)
	p = p[:n]
	if r.content != nil {
		// Never freed for reuse (the garbage collector owns it), so a view
		// stays valid even past Close.
		return r.content[off : off+n], nop, nil
	}

	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return nil, nil, err
	}
	if r.closed {
		r.mu.Unlock()
		return nil, nil, errors.New("read after close")
	}
	r.clock++
	st := r.streamFor(off)
	if st == nil || !st.inWindow(off) {
		if off != 0 && (st == nil || off != st.lastEnd) {
			// A seek: fetch just these bytes, and remember where they end.
			r.dropStaleLocked()
			if st == nil {
				st = r.newStreamLocked()
			}
			r.resetLocked(st, off)
			st.streaming = false
			st.lastEnd = off + n
			st.used = r.clock
			r.mu.Unlock()
			m, err := r.readDirect(ctx, p, off)
			return p[:m], nop, err
		}
		if st == nil {
			st = r.newStreamLocked()
		}
		r.resetLocked(st, off)
		st.streaming = true
		st.lastEnd = off
		if off != 0 {
			// Sequential again after a seek: start from the size being read,
			// not a full initial chunk, so that random reads split by the
			// kernel into two requests do not each fetch a megabyte.
			st.nextSize = min(max(roundUp(n, 64<<10), r.cfg.MinRandomRead), r.cfg.InitialChunk)
			st.window = st.nextSize
		}
	}
	st.used = r.clock
	st.mem.Touch()
	r.trimLocked(st, off)
	r.scheduleLocked(st, off+n)
	var use []*chunk
	for _, c := range st.chunks {
		if c.end > off && c.off < off+n {
			c.refs++
			use = append(use, c)
		}
	}
	r.mu.Unlock()

	copied := int64(0)
	for _, c := range use {
		if err == nil {
			select {
			case <-c.done:
				if c.err != nil {
					err = c.err
					break
				}
				from, to := max(off, c.off), min(off+n, c.end)
				if len(use) == 1 {
					data = c.buf[from-c.off : to-c.off]
				} else {
					copy(p[from-off:to-off], c.buf[from-c.off:to-c.off])
				}
				copied += to - from
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && copied != n {
		err = fmt.Errorf("internal error: read %d of %d bytes at %d", copied, n, off)
	}
	if err != nil {
		r.unrefLocked(use)
		if errors.Is(err, ErrChanged) {
			r.err = err
		}
		if c := st.chunkAt(off); c != nil && c.err != nil {
			r.resetLocked(st, off) // retry with a fresh GET next time
		}
		return nil, nil, err
	}
	if len(st.chunks) > 0 && off+n > st.chunks[0].end {
		st.window = min(st.window*2, r.cfg.MaxWindow)
	}
	st.lastEnd = max(st.lastEnd, off+n)
	if data != nil {
		return data, sync.OnceFunc(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.unrefLocked(use)
		}), nil
	}
	r.unrefLocked(use)
	return p, nop, nil
}

// unrefLocked ends the reads' use of chunks, freeing those already dropped.
// REQUIRES(r.mu)
func (r *Reader) unrefLocked(use []*chunk) {
	for _, c := range use {
		c.refs--
		r.freeIfUnusedLocked(c)
	}
}

// streamFor picks the stream for a read at off: one whose window holds it,
// else one whose last read ended there, else nil. REQUIRES(r.mu)
func (r *Reader) streamFor(off int64) *stream {
	for _, st := range r.streams {
		if st.inWindow(off) {
			return st
		}
	}
	for _, st := range r.streams {
		if st.lastEnd == off {
			return st
		}
	}
	return nil
}

// dropStaleLocked ends the streams no read has used lately: a random reader
// must not leave read-ahead in flight behind every place it visited. Streams
// of readers going on (even several, interleaved) are used every few reads.
// REQUIRES(r.mu)
func (r *Reader) dropStaleLocked() {
	keep := r.streams[:0]
	for _, st := range r.streams {
		if r.clock-st.used > 2*maxStreams {
			r.resetLocked(st, 0)
			st.mem.Close()
			continue
		}
		keep = append(keep, st)
	}
	r.streams = keep
}

// newStreamLocked adds a stream, dropping the least recently used one when
// there are maxStreams already. REQUIRES(r.mu)
func (r *Reader) newStreamLocked() *stream {
	if len(r.streams) >= maxStreams {
		lru := 0
		for i, st := range r.streams {
			if st.used < r.streams[lru].used {
				lru = i
			}
		}
		r.resetLocked(r.streams[lru], 0)
		r.streams[lru].mem.Close()
		r.streams = append(r.streams[:lru], r.streams[lru+1:]...)
	}
	st := &stream{lastEnd: -1}
	st.mem = r.budget.NewStream(func() { r.reclaim(st) })
	r.streams = append(r.streams, st)
	return st
}

// reclaim gives back what an idle stream fetched ahead, when the budget
// asks for it (memory.Stream): a reader that comes back starts a new
// window where it stopped.
func (r *Reader) reclaim(st *stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && slices.Contains(r.streams, st) {
		r.resetLocked(st, st.lastEnd)
	}
}

// inWindow reports whether off can be served by the stream: from the oldest
// chunk kept to a window past the last one scheduled (the kernel's parallel
// read-ahead requests may arrive out of order).
func (st *stream) inWindow(off int64) bool {
	return st.streaming && len(st.chunks) > 0 && off >= st.chunks[0].off && off <= st.next+st.window
}

func (st *stream) chunkAt(off int64) *chunk {
	for _, c := range st.chunks {
		if off >= c.off && off < c.end {
			return c
		}
	}
	return nil
}

// resetLocked empties the stream; a new one would start at off. REQUIRES(r.mu)
func (r *Reader) resetLocked(st *stream, off int64) {
	for _, c := range st.chunks {
		c.dropped = true
		if c.refs == 0 {
			c.cancel() // nobody waits for it: stop the GET
		}
		r.freeIfUnusedLocked(c)
	}
	st.chunks = nil
	st.next = off
	st.nextSize = r.cfg.InitialChunk
	st.window = r.cfg.InitialChunk
}

// trimLocked drops chunks that end more than one chunk behind off: a small
// backward seek, or a read of the kernel's arriving late, is still served.
// REQUIRES(r.mu)
func (r *Reader) trimLocked(st *stream, off int64) {
	i := 0
	for i < len(st.chunks)-1 && st.chunks[i].end <= off-max(st.largest, r.cfg.InitialChunk) {
		st.chunks[i].dropped = true
		r.freeIfUnusedLocked(st.chunks[i])
		i++
	}
	st.chunks = st.chunks[i:]
}

// scheduleLocked starts GETs until the stream covers need plus the window,
// as far as the stream's share of the budget allows (the bytes up to need
// are always fetched). Chunks are at most a quarter of the share, so that a
// stream with a small share still holds the chunk behind the reader, the
// one being read and two arriving. REQUIRES(r.mu)
func (r *Reader) scheduleLocked(st *stream, need int64) {
	target := min(r.size, need+st.window)
	if st.next >= target {
		return
	}
	st.largest = r.cfg.InitialChunk
	for share := st.mem.Share(); st.largest*2 <= share/4 && st.largest*2 <= r.cfg.PartSize; {
		st.largest *= 2
	}
	for st.next < target {
		size := min(st.nextSize, st.largest)
		if rem := st.next % size; rem != 0 {
			size -= rem // end on a multiple of the size: the kernel's 1 MiB reads then lie in one chunk
		}
		size = min(size, r.size-st.next)
		reserve := memory.BufferSize(size) // what fetch's buffer will hold
		if st.next < need {
			st.mem.Need(reserve)
		} else if !st.mem.TryGrow(reserve) {
			return // beyond the stream's share, or the budget is spent: prefetch less
		}
		ctx, cancel := context.WithCancel(r.ctx)
		c := &chunk{off: st.next, end: st.next + size, mem: st.mem, reserved: reserve, done: make(chan struct{}), cancel: cancel}
		st.chunks = append(st.chunks, c)
		st.next = c.end
		st.nextSize = min(size*2, r.cfg.PartSize) // from the size cut to a boundary: no chunk ends far past the window
		r.inflight.Add(1)
		go r.fetch(ctx, c)
	}
}

// fetch fills c with one ranged GET.
func (r *Reader) fetch(ctx context.Context, c *chunk) {
	defer r.inflight.Done()
	defer c.cancel()
	buf := r.budget.GetBuffer(int(c.end - c.off))
	err := r.get(ctx, buf, c.off)
	r.mu.Lock()
	c.buf, c.err = buf, err
	close(c.done)
	r.freeIfUnusedLocked(c)
	r.mu.Unlock()
}

// freeIfUnusedLocked returns c's memory once it is out of the queue, fetched
// and no read copies from it. REQUIRES(r.mu)
func (r *Reader) freeIfUnusedLocked(c *chunk) {
	if !c.dropped || c.refs > 0 || c.reserved == 0 {
		return
	}
	select {
	case <-c.done:
	default:
		return // still fetching: fetch frees it when done
	}
	r.budget.PutBuffer(c.buf)
	c.buf = nil
	c.mem.Release(c.reserved)
	c.reserved = 0
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// readDirect serves a random read with one GET of at least MinRandomRead bytes.
func (r *Reader) readDirect(ctx context.Context, p []byte, off int64) (int, error) {
	length := min(max(int64(len(p)), r.cfg.MinRandomRead), r.size-off)
	r.budget.Overdraw(memory.BufferSize(length))
	defer r.budget.Release(memory.BufferSize(length))
	buf := r.budget.GetBuffer(int(length))
	defer r.budget.PutBuffer(buf)
	if err := r.get(ctx, buf, off); err != nil {
		if errors.Is(err, ErrChanged) {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		}
		return 0, err
	}
	return copy(p, buf), nil
}

// get fills buf with the bytes at off by one GET, checking the response.
func (r *Reader) get(ctx context.Context, buf []byte, off int64) error {
	length := int64(len(buf))
	out, err := r.client.Get(ctx, objstore.GetInput{Key: r.key, Offset: off, Length: length, IfMatch: r.etag})
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrNotFound) {
			return fmt.Errorf("%w: GET %q: %w", ErrChanged, r.key, err)
		}
		return fmt.Errorf("GET %q [%d, +%d): %w", r.key, off, length, err)
	}
	defer out.Body.Close()
	switch {
	case out.Info.ETag != "" && r.etag != "" && out.Info.ETag != r.etag:
		return fmt.Errorf("%w: GET %q returned ETag %s, expected %s", ErrChanged, r.key, out.Info.ETag, r.etag)
	case out.Info.Size != r.size:
		return fmt.Errorf("%w: GET %q reports size %d, expected %d", ErrChanged, r.key, out.Info.Size, r.size)
	case out.Offset != off || out.Length != length:
		return fmt.Errorf("GET %q returned range [%d, +%d), asked for [%d, +%d)", r.key, out.Offset, out.Length, off, length)
	}
	got, err := io.ReadFull(out.Body, buf)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("GET %q returned %d of %d bytes at offset %d: %w", r.key, got, length, off, err)
	}
	return nil
}

// Close drops the stream and waits for its GETs to end. The reader must not
// be used afterwards.
func (r *Reader) Close() {
	r.mu.Lock()
	r.closed = true
	for _, st := range r.streams {
		r.resetLocked(st, 0)
		st.mem.Close()
	}
	r.streams = nil
	release := r.release
	r.release = nil
	r.mu.Unlock()
	r.cancel()
	r.inflight.Wait()
	if release != nil {
		release()
	}
}
