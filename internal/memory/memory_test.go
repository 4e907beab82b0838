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
	for _, n := range []int{1, 4096, 64 << 10, 64<<10 + 1, 8 << 20, 5<<20 + 3} {
		b := GetBuffer(n)
		if len(b) != n || cap(b) < n || cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("GetBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		PutBuffer(b)
	}
	if GetBuffer(0) != nil {
		t.Fatal("GetBuffer(0) should be nil")
	}
	PutBuffer(make([]byte, 100)) // not from the pool: ignored
}

func TestDefaultTarget(t *testing.T) {
	if d := DefaultTarget(); d < 64<<20 || d > 128<<20 {
		t.Fatalf("DefaultTarget() = %d", d)
	}
}
