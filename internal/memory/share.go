package memory

import (
	"sync/atomic"
	"time"
)

// IdleAfter is how long a read stream may go without a read before it
// stops counting as active: its share goes to the others, and the
// read-ahead it holds is reclaimed when they need the room.
const IdleAfter = time.Second

// Stream is one sequential reader's claim on the budget (see the package
// doc, "Read-ahead"): it asks for read-ahead with TryGrow, for the bytes its
// reader waits on with Need, and returns both with Release.
type Stream struct {
	b       *Budget
	reclaim func()
	last    atomic.Int64 // unix nanoseconds of the last Touch; 0: never read (then askedAt is -1)
	held    int64        // bytes reserved through this stream; GUARDED_BY(b.mu)
	askedAt int64        // the last Touch when reclaim was called; GUARDED_BY(b.mu)
}

// NewStream registers a read stream. reclaim is called (in a goroutine of
// its own, with no lock of the budget held) when the stream is idle and
// others need the read-ahead it holds: it should drop the chunks it has
// fetched ahead and Release them. A new stream is idle until its first Touch.
func (b *Budget) NewStream(reclaim func()) *Stream {
	s := &Stream{b: b, reclaim: reclaim, askedAt: -1}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.streams == nil {
		b.streams = map[*Stream]bool{}
	}
	b.streams[s] = true
	return s
}

// Touch marks the stream active: its reader has just read.
func (s *Stream) Touch() { s.last.Store(s.b.now().UnixNano()) }

// activeLocked reports whether s has been read within IdleAfter. REQUIRES(b.mu)
func (s *Stream) activeLocked(now time.Time) bool {
	l := s.last.Load()
	return l != 0 && now.Sub(time.Unix(0, l)) < IdleAfter
}

// Share is the read-ahead the stream may hold now: the budget divided
// evenly among the active streams (itself counted in), the whole budget for
// a lone reader.
func (s *Stream) Share() int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.shareLocked(s.b.now())
}

// shareLocked is Share. REQUIRES(b.mu)
func (s *Stream) shareLocked(now time.Time) int64 {
	active := s.b.activeLocked(now, s)
	return s.b.readLimitLocked(active) / active
}

// StreamOverhead is what each active read stream costs outside the budget:
// the FUSE request and reply buffers of its reads in flight (1 MiB each).
// The read-ahead leaves it free, for up to maxOverheadStreams streams (the
// kernel sends only so many reads at once), so that the Go heap keeps room
// for them and the collector does not run without pause.
const (
	StreamOverhead     = 2 << 20
	maxOverheadStreams = 16
)

// activeLocked counts the streams read within IdleAfter, and s (when not
// nil) as one of them. REQUIRES(b.mu)
func (b *Budget) activeLocked(now time.Time, s *Stream) int64 {
	active := int64(0)
	if s != nil {
		active++
	}
	for o := range b.streams {
		if o != s && o.activeLocked(now) {
			active++
		}
	}
	return active
}

// readLimitLocked is what read-ahead may fill, reserved and idle buffers
// together, while active streams read: the limit less their overhead
// (at least a quarter of it). REQUIRES(b.mu)
func (b *Budget) readLimitLocked(active int64) int64 {
	return max(b.limit-StreamOverhead*min(active, maxOverheadStreams), b.limit/4)
}

// TryGrow reserves n bytes of read-ahead if the stream stays within its
// share and the budget within its limit, and reports whether it did. When
// the budget is full while idle streams hold read-ahead, those are asked to
// give it back (the next TryGrow may then succeed).
func (s *Stream) TryGrow(n int64) bool {
	b := s.b
	b.mu.Lock()
	now := b.now()
	active := b.activeLocked(now, s)
	limit := b.readLimitLocked(active)
	if s.held+n <= limit/active && b.used+n <= limit {
		b.add(n)
		s.held += n
		b.mu.Unlock()
		return true
	}
	var reclaim []func()
	if b.used+n > limit {
		for o := range b.streams {
			if o != s && o.held > 0 && o.askedAt != o.last.Load() && !o.activeLocked(now) && o.reclaim != nil {
				o.askedAt = o.last.Load() // once per idle spell
				reclaim = append(reclaim, o.reclaim)
			}
		}
	}
	b.mu.Unlock()
	for _, fn := range reclaim {
		go fn()
	}
	return false
}

// Need reserves n bytes the stream's reader is waiting on, even past its
// share and the limit: every reader always gets the chunk it needs, so none
// starves, and a reader whose share is small simply reads with less ahead.
func (s *Stream) Need(n int64) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.add(n)
	s.held += n
}

// Release returns n bytes reserved by TryGrow or Need. It may be called
// after Close, for chunks that were still in use then.
func (s *Stream) Release(n int64) {
	b := s.b
	b.mu.Lock()
	s.held -= n
	if s.held < 0 {
		b.mu.Unlock()
		panic("memory: stream released more than it reserved")
	}
	b.mu.Unlock()
	b.Release(n)
}

// Close unregisters the stream: it no longer counts among the readers
// sharing the budget. Bytes it still holds are returned with Release.
func (s *Stream) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	delete(s.b.streams, s)
}

// Held is the number of bytes reserved through the stream.
func (s *Stream) Held() int64 { s.b.mu.Lock(); defer s.b.mu.Unlock(); return s.held }
