package memory

import (
	"sync"
	"testing"
	"time"
)

const mb = 1 << 20

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestBudget(limit int64) (*Budget, *fakeClock) {
	b := NewBudget(limit)
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b.now = c.now
	return b, c
}

// grow takes read-ahead in chunks of n until the stream's share or the
// budget stops it, and returns how much it got.
func grow(s *Stream, n int64) int64 {
	got := int64(0)
	for s.TryGrow(n) {
		got += n
	}
	return got
}

// SEMANTICS "Resources": a lone reader may use the whole read limit; N
// active readers share it evenly, each its 1/N however they arrive.
func TestReadersShareTheBudgetFairly(t *testing.T) {
	b, _ := newTestBudget(100 * mb)
	first := b.NewStream(nil)
	first.Touch()
	if got, want := grow(first, mb), b.limit-StreamOverhead; got != want {
		t.Fatalf("a lone reader got %d MiB, want the whole read limit, %d MiB", got/mb, want/mb)
	}
	// Three more readers arrive while the first holds everything: it gets
	// no more, and they get room as it consumes what it holds.
	others := []*Stream{b.NewStream(nil), b.NewStream(nil), b.NewStream(nil)}
	for _, s := range others {
		s.Touch()
	}
	share := (b.limit - 4*StreamOverhead) / 4
	if first.Share() != share {
		t.Fatalf("share of 4 readers: %d, want %d", first.Share(), share)
	}
	if first.TryGrow(mb) {
		t.Fatal("a reader above its share was granted more")
	}
	first.Release(first.Held() - share) // its reader consumed the excess
	for i, s := range others {
		if got := grow(s, mb); got < share-mb || got > share {
			t.Fatalf("reader %d got %d MiB, want its share of %d MiB", i+1, got/mb, share/mb)
		}
	}
	if b.Used() > b.limit {
		t.Fatalf("used %d of %d", b.Used(), b.limit)
	}
}

// SEMANTICS "Resources": the chunk a reader waits on is always granted,
// even when its share and the budget are spent, so no reader starves.
func TestANeededChunkIsAlwaysGranted(t *testing.T) {
	b, _ := newTestBudget(10 * mb)
	hog := b.NewStream(nil)
	hog.Touch()
	grow(hog, mb)
	s := b.NewStream(nil)
	s.Touch()
	if s.TryGrow(8 * mb) {
		t.Fatal("read-ahead past the budget was granted")
	}
	s.Need(8 * mb)
	if s.Held() != 8*mb {
		t.Fatalf("held %d after Need", s.Held())
	}
	s.Release(8 * mb)
	hog.Release(hog.Held())
	if b.Used() != 0 {
		t.Fatalf("used %d after all was released", b.Used())
	}
}

// SEMANTICS "Resources": a reader idle for IdleAfter stops counting among
// the sharers, and its read-ahead is reclaimed once the others need it.
func TestIdleReadersGiveTheirShareBack(t *testing.T) {
	b, clock := newTestBudget(100 * mb)
	reclaimed := make(chan struct{}, 1)
	var idle *Stream
	idle = b.NewStream(func() {
		idle.Release(idle.Held())
		reclaimed <- struct{}{}
	})
	idle.Touch()
	grow(idle, mb)
	clock.add(IdleAfter)
	busy := b.NewStream(nil)
	busy.Touch()
	if want := b.limit - StreamOverhead; busy.Share() != want {
		t.Fatalf("share beside an idle reader %d, want the whole read limit %d", busy.Share(), want)
	}
	if busy.TryGrow(mb) {
		t.Fatal("granted while the idle reader holds the budget")
	}
	select {
	case <-reclaimed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle reader was not asked to give its read-ahead back")
	}
	if got := grow(busy, mb); got != b.limit-StreamOverhead {
		t.Fatalf("after the reclaim the busy reader got %d MiB", got/mb)
	}
	// Asked once per idle spell: a second refusal does not ask again.
	idle.Need(mb)
	if busy.TryGrow(mb) {
		t.Fatal("granted past the limit")
	}
	select {
	case <-reclaimed:
		t.Fatal("reclaim asked twice in one idle spell")
	case <-time.After(50 * time.Millisecond):
	}
	idle.Close()
	if busy.Share() != b.limit-StreamOverhead {
		t.Fatal("a closed stream still counts")
	}
}
