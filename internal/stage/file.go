package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Source reads the bytes of the base version (pinned to its ETag). ReadAt
// fills p completely unless the base ends first; a changed base is an error.
type Source interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// fetchBlock is the granule of fetches from the base: a read of a few bytes
// brings in the block around them, so small scattered reads (sqlite's pages,
// an editor's view) cost few requests.
const fetchBlock = 1 << 20

var blockPool = sync.Pool{New: func() any { b := make([]byte, fetchBlock); return &b }}

// File is one staged object. It is safe for concurrent use.
type File struct {
	d *Dir

	mu       sync.Mutex
	f        *os.File // GUARDED_BY(mu)
	size     int64    // GUARDED_BY(mu)
	baseSize int64    // GUARDED_BY(mu) size of the base version
	limit    int64    // GUARDED_BY(mu) base limit: see the package doc
	src      Source   // GUARDED_BY(mu) nil when limit is 0
	have     ranges   // GUARDED_BY(mu)
	written  ranges   // GUARDED_BY(mu)
	changed  bool     // GUARDED_BY(mu) written to or resized since the base
	gen      uint64   // GUARDED_BY(mu) bumped by every change
	closed   bool     // GUARDED_BY(mu)
}

// New stages a file whose base has size bytes, read through src (nil and 0
// for a file that does not exist yet).
func (d *Dir) New(size int64, src Source) (*File, error) {
	if size > 0 && src == nil {
		return nil, errors.New("stage: a base of non-zero size needs a source")
	}
	f, err := os.OpenFile(d.newPath(), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	if err := f.Truncate(size); err != nil { // sparse: holes cost nothing
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("stage: %w", err)
	}
	return &File{d: d, f: f, size: size, baseSize: size, limit: size, src: src}, nil
}

// Size is the file's current size.
func (s *File) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Changed reports whether the file was written to or resized since its base.
func (s *File) Changed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Gen is a counter bumped by every change: equal values mean equal contents.
func (s *File) Gen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Clean returns the ranges whose bytes are the base's at the same offset:
// a commit may copy them on the server instead of sending them.
func (s *File) Clean() []Range {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written.missing(0, min(s.limit, s.size))
}

// Local reports how many bytes of [off, end) are present in the local file.
func (s *File) Local(off, end int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.have.within(off, end)
}

// ReadAt reads up to len(p) bytes at off, fewer only at the end of the
// file, fetching from the base what is not present yet.
func (s *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("stage: read after close")
	}
	if off >= s.size {
		return 0, nil
	}
	n := min(int64(len(p)), s.size-off)
	if err := s.fillLocked(ctx, off, off+n); err != nil {
		return 0, err
	}
	m, err := s.f.ReadAt(p[:n], off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(m) == n) {
		return m, fmt.Errorf("stage: read local copy: %w", err)
	}
	return m, nil
}

// Fill makes [off, end) present locally, fetching what is missing.
func (s *File) Fill(ctx context.Context, off, end int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fillLocked(ctx, off, min(end, s.size))
}

// fillLocked fetches the missing base bytes of [off, end) in aligned blocks,
// writing into the local file only bytes still missing (never over written
// ones). REQUIRES(s.mu)
func (s *File) fillLocked(ctx context.Context, off, end int64) error {
	end = min(end, s.limit)
	if off >= end {
		return nil
	}
	for _, m := range s.have.missing(off, end) {
		for a := m.Off / fetchBlock * fetchBlock; a < m.End; a += fetchBlock {
			if err := s.fetchBlockLocked(ctx, a, min(a+fetchBlock, s.limit)); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchBlockLocked brings the missing bytes of [a, b) (inside the base) in. REQUIRES(s.mu)
func (s *File) fetchBlockLocked(ctx context.Context, a, b int64) error {
	miss := s.have.missing(a, b)
	if len(miss) == 0 {
		return nil
	}
	// Fetch only the span that is missing.
	a, b = miss[0].Off, miss[len(miss)-1].End
	if err := s.d.reserve(ranges(miss).total()); err != nil {
		return err
	}
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	buf := (*bp)[:b-a]
	n, err := s.src.ReadAt(ctx, buf, a)
	if err == nil && int64(n) != b-a {
		err = fmt.Errorf("base returned %d of %d bytes at %d", n, b-a, a)
	}
	if err != nil {
		s.d.release(ranges(miss).total())
		return fmt.Errorf("stage: fetch [%d, %d) of the base: %w", a, b, err)
	}
	for _, m := range miss {
		if _, err := s.f.WriteAt(buf[m.Off-a:m.End-a], m.Off); err != nil {
			s.d.release(ranges(miss).total())
			return fmt.Errorf("stage: write local copy: %w", err)
		}
	}
	s.charged(miss)
	return nil
}

// charged records that the bytes of rs, already charged, are now present. REQUIRES(s.mu)
func (s *File) charged(rs []Range) {
	for _, r := range rs {
		s.have = s.have.add(r.Off, r.End)
	}
}

// WriteAt writes p at off, extending the file as needed.
func (s *File) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("stage: write after close")
	}
	if off < 0 {
		return 0, fmt.Errorf("stage: negative offset %d", off)
	}
	end := off + int64(len(p))
	miss := s.have.missing(off, end)
	if err := s.d.reserve(ranges(miss).total()); err != nil {
		return 0, err
	}
	n, err := s.f.WriteAt(p, off)
	if err != nil {
		s.d.release(ranges(miss).total())
		// Part of p may be on disk, but the range stays missing: below the
		// base limit its bytes are fetched from the base again when read.
		return 0, fmt.Errorf("stage: write local copy: %w", err)
	}
	s.charged(miss)
	s.written = s.written.add(off, end)
	s.size = max(s.size, end)
	s.changed = true
	s.gen++
	return n, nil
}

// Truncate sets the size: shrinking drops the bytes past it (and cuts the
// base there), growing adds zeros.
func (s *File) Truncate(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("stage: truncate after close")
	}
	if size < 0 {
		return fmt.Errorf("stage: negative size %d", size)
	}
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("stage: truncate local copy: %w", err)
	}
	if size < s.size {
		dropped := s.have.within(size, s.size)
		s.have = s.have.remove(size, s.size)
		s.written = s.written.remove(size, s.size)
		s.d.release(dropped)
		s.limit = min(s.limit, size)
	}
	if size != s.size {
		s.changed = true
		s.gen++
	}
	s.size = size
	return nil
}

// Rebase makes the current contents the base: after a commit, the committed
// object (read through src) is what the next commit starts from. Bytes not
// present locally are fetched from src from now on, which holds the same
// bytes at those offsets.
func (s *File) Rebase(src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src = src
	s.baseSize, s.limit = s.size, s.size
	s.written = nil
	s.changed = false
}

// Close removes the local copy.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.d.release(s.have.total())
	s.have = nil
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// SaveTo copies the bytes present locally into a new file at path (sparse:
// what is not present is a hole) and returns the ranges it holds. It is the
// last resort of a conflict whose base is gone.
func (s *File) SaveTo(path string) ([]Range, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	buf := *bp
	for _, r := range s.have {
		for off := r.Off; off < r.End && err == nil; off += fetchBlock {
			n := min(int64(len(buf)), r.End-off)
			if _, err = s.f.ReadAt(buf[:n], off); err == nil {
				_, err = out.WriteAt(buf[:n], off)
			}
		}
	}
	if err == nil {
		err = out.Truncate(s.size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return append([]Range(nil), s.have...), nil
}

// SetSource changes where the base is read from, for the same bytes: the
// base object was moved (renamed) on the server.
func (s *File) SetSource(src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src = src
}
