package memory

import (
	"context"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := NewBudget(100)
	if !b.TryReserve(60) || b.TryReserve(50) {
		t.Fatal("TryReserve must grant 60 of 100 and refuse 50 more")
	}
	b.Overdraw(50) // a read that must progress
	if b.Used() != 110 || b.Peak() != 110 {
		t.Fatalf("used %d peak %d", b.Used(), b.Peak())
	}
	done := make(chan error)
	go func() { done <- b.Reserve(context.Background(), 30) }()
	select {
	case <-done:
		t.Fatal("Reserve did not wait for room")
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(50)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.Release(60)
	b.Release(30)
	if b.Used() != 0 {
		t.Fatalf("used %d", b.Used())
	}
}

func TestReserveLargerThanBudgetWhenEmpty(t *testing.T) {
	b := NewBudget(10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Reserve(ctx, 100); err != nil {
		t.Fatalf("an oversized request on an empty budget: %v", err)
	}
}

func TestReserveCancelled(t *testing.T) {
	b := NewBudget(10)
	b.Overdraw(10)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := b.Reserve(ctx, 5); err == nil {
		t.Fatal("Reserve returned without room or cancellation")
	}
	if b.Used() != 10 {
		t.Fatalf("a cancelled Reserve reserved: used %d", b.Used())
	}
}

func TestReserveWithinOverdrawsAfterTheWait(t *testing.T) {
	b := NewBudget(10)
	b.Overdraw(10)
	start := time.Now()
	if err := b.ReserveWithin(context.Background(), 5, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("did not wait (%v)", waited)
	}
	if b.Used() != 15 {
		t.Fatalf("used %d, want 15", b.Used())
	}
}

func TestBufferPool(t *testing.T) {
	b := NewBudget(64 << 20)
	for _, tc := range []struct{ n, size int }{
		{1, 64 << 10}, {4096, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10},
		{1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}, {8 << 20, 8 << 20}, {5<<20 + 3, 6 << 20}, {10 << 20, 10 << 20},
	} {
		buf := b.GetBuffer(tc.n)
		if len(buf) != tc.n || cap(buf) != tc.size || BufferSize(int64(tc.n)) != int64(tc.size) {
			t.Fatalf("GetBuffer(%d): len %d cap %d, BufferSize %d; want cap %d", tc.n, len(buf), cap(buf), BufferSize(int64(tc.n)), tc.size)
		}
		b.PutBuffer(buf)
	}
	if b.GetBuffer(0) != nil {
		t.Fatal("GetBuffer(0) should be nil")
	}
	b.PutBuffer(make([]byte, 100)) // not from GetBuffer: ignored
	if want := int64(64<<10 + 128<<10 + 1<<20 + 2<<20 + 8<<20 + 6<<20 + 10<<20); b.Idle() != want {
		t.Fatalf("idle %d bytes; want %d, one buffer of each size used", b.Idle(), want)
	}
	// Reuse: the same backing array comes back.
	buf := b.GetBuffer(8 << 20)
	buf[0] = 42
	b.PutBuffer(buf)
	if again := b.GetBuffer(8<<20 - 5); cap(again) != 8<<20 || again[:1][0] != 42 {
		t.Fatal("an idle buffer of the size was not reused")
	}
}

// Reserved plus idle bytes never exceed the limit: idle buffers are dropped
// when reservations need the room, and not kept when returned past it.
func TestIdleBuffersStayWithinTheLimit(t *testing.T) {
	const mib = 1 << 20
	b := NewBudget(16 * mib)
	var bufs [][]byte
	for range 4 {
		if !b.TryReserve(4 * mib) {
			t.Fatal("4 × 4 MiB must fit in 16 MiB")
		}
		bufs = append(bufs, b.GetBuffer(4*mib))
	}
	for _, buf := range bufs {
		b.PutBuffer(buf)
		b.Release(4 * mib)
	}
	if b.Idle() != 16*mib || b.Used() != 0 {
		t.Fatalf("idle %d, used %d; want 16 MiB idle", b.Idle(), b.Used())
	}
	// A reservation takes an idle buffer of its size: nothing is dropped.
	b.Overdraw(4 * mib)
	reused := b.GetBuffer(4 * mib)
	if b.Idle() != 12*mib {
		t.Fatalf("idle %d after reusing one of four idle buffers; want 12 MiB", b.Idle())
	}
	// New buffers of another size make room by dropping idle ones.
	b.Overdraw(8 * mib)
	other := b.GetBuffer(8 * mib)
	if b.Used()+b.Idle() > 16*mib || b.Idle() != 4*mib {
		t.Fatalf("used %d + idle %d: want idle trimmed to 4 MiB within the 16 MiB limit", b.Used(), b.Idle())
	}
	b.Overdraw(8 * mib) // past the limit: nothing idle is left
	_ = b.GetBuffer(8 * mib)
	if b.Idle() != 0 {
		t.Fatalf("idle %d while overdrawn", b.Idle())
	}
	_, _ = reused, other
	b.PutBuffer(make([]byte, 4*mib)) // returned while over the limit: dropped
	if b.Idle() != 0 {
		t.Fatalf("a buffer returned past the limit was kept (idle %d)", b.Idle())
	}
}

func TestDefaultTarget(t *testing.T) {
	if d := DefaultTarget(); d < MinTarget || d > MaxDefaultTarget {
		t.Fatalf("DefaultTarget() = %d", d)
	}
}

// SEMANTICS "Resources": buffers get the target less 56 MiB, and small
// targets (tests') at least half of it.
func TestBufferBudgetLeaves56MiB(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ target, want int64 }{
		{128 * mib, 72 * mib},
		{256 * mib, 200 * mib},
		{MinTarget, 48 * mib},
		{32 * mib, 16 * mib},
	} {
		if got := BufferBudget(tc.target); got != tc.want {
			t.Errorf("BufferBudget(%d MiB) = %d MiB, want %d MiB", tc.target/mib, got/mib, tc.want/mib)
		}
	}
}
