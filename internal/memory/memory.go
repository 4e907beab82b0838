// Package memory is the one memory budget of a mount (--memory-target):
// prefetch windows and upload part buffers draw from it, so that the process
// stays near the target however many files are open. Its users ask; the
// budget decides.
//
// # Read-ahead
//
// Each sequential read stream registers (NewStream) and asks for its
// read-ahead chunk by chunk. The policy:
//
//   - Fair shares. The streams read within the last IdleAfter are active;
//     each may hold an equal share of the read limit (the budget less
//     StreamOverhead for each active stream, the FUSE buffers its reads take
//     outside the budget). A lone reader's share is the whole read limit, so
//     it keeps the big window; with N readers each gets 1/N.
//   - Used fully. A stream's share is a cap, not a reservation: what idle
//     or finished streams do not hold, the active ones share.
//   - No reader starves. The chunk a reader is waiting on is always
//     granted (Need), past its share and the limit if it must be: every
//     stream always has at least that one GET in flight. Readers size their
//     chunks to their share (prefetch: at most a quarter of it), so even
//     many readers of a small budget keep several chunks each in flight.
//   - Shrinking idle windows. A stream that has not been read for
//     IdleAfter no longer counts among the sharers; when the others need
//     room, it is asked (its reclaim function) to drop what it fetched ahead.
//     A stream that held more than its share when others arrived gets no more
//     until its reader has consumed it down to the share.
//
// # Others
//
// The bytes a random read needs, and upload parts, are reserved directly:
// a reader may overdraw for the part it waits on (a read must progress),
// while a writer waits until a part buffer is free, which slows the writing
// application down (backpressure) instead of buffering without bound.
//
// Buffers are recycled through the budget's free lists, one per buffer
// size, so a steady stream of 8 MiB parts does not allocate (and zero) a new
// 8 MiB slice each time. A buffer's size is BufferSize of what was asked
// for, and that is what its user reserves: the budget counts the memory the
// buffers really hold. Reserved plus idle bytes stay within the limit (the
// read limit while streams read): a buffer returned while the budget is
// overdrawn is dropped, and a new buffer of a size no idle one has makes
// idle buffers go, so the process stays within its memory target with
// little garbage for the collector. Idle buffers are kept while the mount is
// idle (they are within the target).
package memory

import (
	"context"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Budget counts reserved bytes against a limit. Safe for concurrent use.
type Budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64
	used  int64
	peak  int64
	idle  map[int][][]byte // free buffers by capacity (a BufferSize)
	idleN int64            // bytes in idle

	streams map[*Stream]bool // read streams sharing the read-ahead (share.go)
	now     func() time.Time
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	b := &Budget{limit: limit, idle: make(map[int][][]byte), now: time.Now}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// TryReserve reserves n bytes if they fit, and reports whether it did.
func (b *Budget) TryReserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.add(n)
	return true
}

// Overdraw reserves n bytes even past the limit: for the bytes a read is
// waiting on, which must be fetched for the read to complete.
func (b *Budget) Overdraw(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.add(n)
}

// Reserve waits until n bytes fit and reserves them. A request larger than
// the whole budget is granted once nothing else is reserved.
func (b *Budget) Reserve(ctx context.Context, n int64) error {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.limit && b.used > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.cond.Wait()
	}
	b.add(n)
	return nil
}

// ReserveWithin waits at most d for n bytes to fit, then reserves them
// anyway. Writers use it: they slow down while uploads in flight free
// memory, but can never wait forever on memory held by buffers that only
// their own (blocked) application could release.
func (b *Budget) ReserveWithin(ctx context.Context, n int64, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := b.Reserve(wctx, n); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.Overdraw(n)
	}
	return nil
}

func (b *Budget) add(n int64) {
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
}

// trimIdle drops idle buffers, largest first, until reserved plus idle
// bytes fit in the limit again. REQUIRES(b.mu)
func (b *Budget) trimIdle() {
	limit := b.readLimitLocked(b.activeLocked(b.now(), nil))
	for b.used+b.idleN > limit && b.idleN > 0 {
		largest := 0
		for size := range b.idle {
			largest = max(largest, size)
		}
		b.takeIdle(largest) // left to the garbage collector
	}
}

// takeIdle removes one idle buffer of capacity size (there must be one).
// REQUIRES(b.mu)
func (b *Budget) takeIdle(size int) []byte {
	list := b.idle[size]
	last := len(list) - 1
	buf := list[last]
	list[last] = nil
	if last == 0 {
		delete(b.idle, size)
	} else {
		b.idle[size] = list[:last]
	}
	b.idleN -= int64(size)
	return buf
}

// Release returns n reserved bytes.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		panic("memory: released more than reserved")
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Used is the number of bytes reserved now; Peak the most ever reserved.
func (b *Budget) Used() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.used }

// Peak is the largest number of bytes reserved at once so far.
func (b *Budget) Peak() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.peak }

// Buffer sizes: powers of two from 64 KiB to 1 MiB, then whole MiB up to
// 1 GiB. Above 1 MiB whole MiB waste little (a 10 MiB part is a 10 MiB
// buffer; a power of two would be 16 MiB, and reserving less than that had
// the heap outgrow its limit and the collector run without pause).
const (
	minBuffer = 64 << 10
	mib       = 1 << 20
	maxBuffer = 1 << 30
)

// BufferSize is the capacity of the buffer GetBuffer(n) returns, and so the
// number of bytes to reserve for it.
func BufferSize(n int64) int64 {
	switch {
	case n <= minBuffer:
		return minBuffer
	case n <= mib:
		return 1 << bits.Len64(uint64(n-1))
	case n <= maxBuffer:
		return (n + mib - 1) / mib * mib
	}
	return n
}

// GetBuffer returns a slice of length n and capacity BufferSize(n), an idle
// one when there is one of that size. Its contents are not zeroed. The
// BufferSize(n) bytes should be reserved first (Reserve, TryReserve,
// Overdraw). A new buffer makes idle ones of other sizes go if reserved plus
// idle bytes no longer fit.
func (b *Budget) GetBuffer(n int) []byte {
	if n <= 0 {
		return nil
	}
	size := int(BufferSize(int64(n)))
	if size > maxBuffer {
		return make([]byte, n)
	}
	b.mu.Lock()
	if len(b.idle[size]) > 0 {
		buf := b.takeIdle(size)
		b.mu.Unlock()
		return buf[:n]
	}
	b.trimIdle()
	b.mu.Unlock()
	return make([]byte, n, size)
}

// PutBuffer returns a slice from GetBuffer, before its reservation is
// released. It is kept for reuse while reserved plus idle bytes fit in the
// limit (its own reserved bytes are about to become idle ones), else left
// to the garbage collector. The caller must not use it afterwards.
func (b *Budget) PutBuffer(buf []byte) {
	size := cap(buf)
	if size == 0 || size > maxBuffer || int64(size) != BufferSize(int64(size)) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+b.idleN > b.readLimitLocked(b.activeLocked(b.now(), nil)) {
		return
	}
	b.idle[size] = append(b.idle[size], buf[:size])
	b.idleN += int64(size)
}

// Idle is the number of bytes in free buffers kept for reuse.
func (b *Budget) Idle() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.idleN }

// Reserved is the part of a mount's memory target (--memory-target, the
// whole process) that the buffer budget leaves for what it does not count:
// the program's code (about 20 MiB resident) and the Go runtime (about 7 MiB
// when idle), FUSE request buffers, the inode table, garbage not yet
// collected, and the part each read stream or writer may overdraw the
// budget by. It also keeps the Go heap some way below its limit (the target
// less 32 MiB) when the buffers are all in use: with 48 MiB the collector ran
// after every megabyte allocated, 25 times per GiB written; with 56 MiB a
// GiB writes about 5% faster and reads no slower.
const Reserved = 56 << 20

// MinTarget is the smallest memory target a mount accepts: it leaves 48 MiB
// of buffers, room for a few readers and writers of 8 MiB parts.
const MinTarget = 96 << 20

// BufferBudget is the budget for read-ahead and upload buffers under a
// process memory target: the target less Reserved (at least half of it, for
// the small targets of tests).
func BufferBudget(target int64) int64 { return max(target-Reserved, target/2) }

// DefaultTarget is the memory target when --memory-target is not given: an
// eighth of the machine's (or the cgroup's) memory, between MinTarget and
// MaxDefaultTarget.
func DefaultTarget() int64 {
	total := systemMemory()
	return min(max(total/8, MinTarget), MaxDefaultTarget)
}

// MaxDefaultTarget caps the default target (a machine of 4 GiB or more
// gets it): 456 MiB of buffers, so that 16 readers each keep a share of
// about 26 MiB (4 MiB chunks) and a lone reader its full 64 MiB window. At
// 128 MiB, 16 readers had 2.5 MiB each, read in 512 KiB GETs and together
// at two thirds of the rate.
const MaxDefaultTarget = 512 << 20

// systemMemory is the smaller of physical memory and the cgroup v2 limit.
func systemMemory() int64 {
	total := int64(1) << 40
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					total = kb << 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
			total = min(total, v)
		}
	}
	return total
}
