package stage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var ctx = context.Background()

// TestRangesMatchABitmap drives the range set with random operations and
// compares it with a plain bitmap after each one.
func TestRangesMatchABitmap(t *testing.T) {
	const n = 200
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var s ranges
		var bits [n]bool
		for op := 0; op < 30; op++ {
			a := r.Int64N(n)
			b := a + r.Int64N(n-a+1)
			add := r.IntN(3) > 0
			if add {
				s = s.add(a, b)
			} else {
				s = s.remove(a, b)
			}
			for i := a; i < b; i++ {
				bits[i] = add
			}
			// Invariant: sorted, disjoint, non-adjacent, non-empty.
			for i, x := range s {
				if x.Off >= x.End || (i > 0 && s[i-1].End >= x.Off) {
					t.Fatalf("round %d op %d: set not normal: %v", round, op, s)
				}
			}
			var total int64
			for i := range bits {
				if bits[i] {
					total++
				}
			}
			if s.total() != total {
				t.Fatalf("round %d op %d: total %d, bitmap %d (%v)", round, op, s.total(), total, s)
			}
			qa := r.Int64N(n)
			qb := qa + r.Int64N(n-qa+1)
			var want []Range
			for i := qa; i < qb; i++ {
				if bits[i] {
					continue
				}
				if len(want) > 0 && want[len(want)-1].End == i {
					want[len(want)-1].End++
				} else {
					want = append(want, Range{i, i + 1})
				}
			}
			if got := s.missing(qa, qb); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("missing(%d, %d) = %v, want %v (set %v)", qa, qb, got, want, s)
			}
		}
	}
}

// source serves base bytes and counts reads.
type source struct {
	data  []byte
	reads int
	err   error
}

func (s *source) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	s.reads++
	if s.err != nil {
		return 0, s.err
	}
	if off >= int64(len(s.data)) {
		return 0, nil
	}
	return copy(p, s.data[off:]), nil
}

func newDir(t *testing.T, max int64) *Dir {
	t.Helper()
	d, err := Open(t.TempDir(), max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove() })
	return d
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/253)
	}
	return b
}

func readAll(t *testing.T, f *File) []byte {
	t.Helper()
	buf := make([]byte, f.Size()+10)
	n, err := f.ReadAt(ctx, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// TestFileMatchesAModel applies random writes, truncations and reads to a
// staged file over a base and to a byte slice, and compares them.
func TestFileMatchesAModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 40; round++ {
		d := newDir(t, 0)
		base := pattern(int(r.Int64N(5 << 20)))
		src := &source{data: base}
		f, err := d.New(int64(len(base)), src)
		if err != nil {
			t.Fatal(err)
		}
		model := bytes.Clone(base)
		for op := 0; op < 40; op++ {
			switch r.IntN(4) {
			case 0, 1: // write
				off := r.Int64N(int64(len(model)) + 100)
				p := bytes.Repeat([]byte{byte(op + 1)}, int(r.Int64N(300_000))+1)
				if _, err := f.WriteAt(p, off); err != nil {
					t.Fatal(err)
				}
				if end := off + int64(len(p)); end > int64(len(model)) {
					model = append(model, make([]byte, end-int64(len(model)))...)
				}
				copy(model[off:], p)
			case 2: // truncate
				size := r.Int64N(int64(len(model)) + 1<<20)
				if err := f.Truncate(size); err != nil {
					t.Fatal(err)
				}
				if size < int64(len(model)) {
					model = model[:size]
				} else {
					model = append(model, make([]byte, size-int64(len(model)))...)
				}
			case 3: // read
				off := r.Int64N(int64(len(model)) + 1)
				p := make([]byte, r.Int64N(1<<20))
				n, err := f.ReadAt(ctx, p, off)
				if err != nil {
					t.Fatal(err)
				}
				want := model[off:min(off+int64(len(p)), int64(len(model)))]
				if !bytes.Equal(p[:n], want) {
					t.Fatalf("round %d op %d: read at %d: %d bytes differ from the model's %d", round, op, off, n, len(want))
				}
			}
			if f.Size() != int64(len(model)) {
				t.Fatalf("size %d, model %d", f.Size(), len(model))
			}
			// Clean ranges really hold the base's bytes at the same offset.
			for _, c := range f.Clean() {
				if !bytes.Equal(model[c.Off:c.End], base[c.Off:c.End]) {
					t.Fatalf("round %d op %d: clean range %v differs from the base", round, op, c)
				}
			}
		}
		if got := readAll(t, f); !bytes.Equal(got, model) {
			t.Fatalf("round %d: final contents differ", round)
		}
		if d.Used() > int64(len(model))+fetchBlock {
			t.Fatalf("%d bytes charged for a %d-byte file", d.Used(), len(model))
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if d.Used() != 0 {
			t.Fatalf("closed file still charges %d bytes", d.Used())
		}
	}
}

func TestAppendFetchesNothing(t *testing.T) {
	d := newDir(t, 0)
	src := &source{data: pattern(50 << 20)}
	f, _ := d.New(50<<20, src)
	defer f.Close()
	if _, err := f.WriteAt([]byte("tail"), 50<<20); err != nil {
		t.Fatal(err)
	}
	if src.reads != 0 {
		t.Fatalf("an append fetched %d times from the base", src.reads)
	}
	if got := f.Clean(); fmt.Sprint(got) != fmt.Sprint([]Range{{0, 50 << 20}}) {
		t.Fatalf("clean = %v", got)
	}
	if used := d.Used(); used != 4 {
		t.Fatalf("an append of 4 bytes charged %d", used)
	}
}

func TestReadsFetchBlocksOnce(t *testing.T) {
	d := newDir(t, 0)
	base := pattern(3 << 20)
	src := &source{data: base}
	f, _ := d.New(int64(len(base)), src)
	defer f.Close()
	p := make([]byte, 10)
	for _, off := range []int64{5, 100, fetchBlock - 5, 7} {
		if _, err := f.ReadAt(ctx, p, off); err != nil {
			t.Fatal(err)
		}
	}
	// [5,15) and [100,110) are in block 0; [fetchBlock-5, +10) spans into block 1.
	if src.reads != 2 {
		t.Fatalf("%d fetches, want 2 (block 0, then the rest of block 1's span)", src.reads)
	}
	// A written byte in the middle of a block is never overwritten by a fetch.
	if _, err := f.WriteAt([]byte{0xEE}, 2<<20+10); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 20)
	if _, err := f.ReadAt(ctx, got, 2<<20); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(base[2<<20 : 2<<20+20])
	want[10] = 0xEE
	if !bytes.Equal(got, want) {
		t.Fatalf("read around a written byte: %x, want %x", got, want)
	}
}

func TestFetchErrorIsReturnedAndNothingCharged(t *testing.T) {
	d := newDir(t, 0)
	src := &source{data: pattern(1 << 20), err: errors.New("object changed")}
	f, _ := d.New(1<<20, src)
	defer f.Close()
	if _, err := f.ReadAt(ctx, make([]byte, 10), 0); err == nil || !errors.Is(err, src.err) {
		t.Fatalf("read with a failing base: %v", err)
	}
	if d.Used() != 0 {
		t.Fatalf("a failed fetch charged %d bytes", d.Used())
	}
}

func TestCapIsErrFull(t *testing.T) {
	d := newDir(t, 1<<20)
	f, _ := d.New(0, nil)
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1), 1<<20); !errors.Is(err, ErrFull) {
		t.Fatalf("write past the cap: %v, want ErrFull", err)
	}
	// Rewriting present bytes costs nothing more.
	if _, err := f.WriteAt(make([]byte, 100), 0); err != nil {
		t.Fatalf("rewrite within the cap: %v", err)
	}
	if err := f.Truncate(1000); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1000), 1000); err != nil {
		t.Fatalf("write after a truncation freed room: %v", err)
	}
}

func TestDefaultCapKeepsFivePercentFree(t *testing.T) {
	d := newDir(t, 0)
	d.statfs = func(string) (int64, int64, error) { return 100 << 20, 6 << 20, nil }
	f, _ := d.New(0, nil)
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 512<<10), 0); err != nil {
		t.Fatalf("write leaving 5.5%% free: %v", err)
	}
	if _, err := f.WriteAt(make([]byte, 2<<20), 1<<20); !errors.Is(err, ErrFull) {
		t.Fatalf("write leaving 4%% free: %v, want ErrFull", err)
	}
}

func TestRebaseMakesTheContentsTheBase(t *testing.T) {
	d := newDir(t, 0)
	base := pattern(2 << 20)
	f, _ := d.New(int64(len(base)), &source{data: base})
	defer f.Close()
	f.WriteAt([]byte("xyz"), 100)
	if !f.Changed() {
		t.Fatal("a write did not change the file")
	}
	committed := bytes.Clone(base)
	copy(committed[100:], "xyz")
	f.Rebase(&source{data: committed})
	if f.Changed() {
		t.Fatal("changed right after Rebase")
	}
	if got := f.Clean(); fmt.Sprint(got) != fmt.Sprint([]Range{{0, 2 << 20}}) {
		t.Fatalf("clean after rebase = %v", got)
	}
	if got := readAll(t, f); !bytes.Equal(got, committed) {
		t.Fatal("contents after rebase differ")
	}
}

func TestStaleDirectoriesAreRemoved(t *testing.T) {
	parent := t.TempDir()
	live, err := Open(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	// A directory whose lock nobody holds: its process died.
	stale := filepath.Join(parent, dirPrefix+"dead")
	os.MkdirAll(stale, 0o700)
	os.WriteFile(filepath.Join(stale, ".lock"), nil, 0o600)
	os.WriteFile(filepath.Join(stale, "f1"), []byte("partial"), 0o600)
	other := filepath.Join(parent, "unrelated")
	os.MkdirAll(other, 0o700)

	d2, err := Open(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Remove()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale staging directory still there: %v", err)
	}
	if _, err := os.Stat(live.Root()); err != nil {
		t.Fatalf("a live mount's staging directory was removed: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("an unrelated directory was removed: %v", err)
	}
	st, _ := os.Stat(d2.Root())
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("staging directory mode %v, want 0700", st.Mode().Perm())
	}
}

func TestSaveToCopiesWhatIsLocal(t *testing.T) {
	d := newDir(t, 0)
	base := pattern(3 << 20)
	f, _ := d.New(int64(len(base)), &source{data: base})
	defer f.Close()
	f.WriteAt([]byte("hello"), 2<<20)
	f.ReadAt(ctx, make([]byte, 10), 0) // brings block 0 in
	path := filepath.Join(t.TempDir(), "saved")
	got, err := f.SaveTo(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint([]Range{{0, fetchBlock}, {2 << 20, 2<<20 + 5}}) {
		t.Fatalf("saved ranges %v", got)
	}
	b, _ := os.ReadFile(path)
	if int64(len(b)) != f.Size() || !bytes.Equal(b[:fetchBlock], base[:fetchBlock]) || string(b[2<<20:2<<20+5]) != "hello" {
		t.Fatal("saved file does not hold the local bytes")
	}
}

func TestJournalReportsUploadsADeadMountLeftOpen(t *testing.T) {
	parent := t.TempDir()
	d, err := Open(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := d.Track("b", "key with spaces\n", "id-1")
	d.Track("b", "other", "id-2") // open when the mount dies
	done()
	// The mount dies: its lock goes with it, the directory stays.
	d.lock.Close()
	d2, err := Open(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Remove()
	if got := d2.Orphans(); fmt.Sprint(got) != fmt.Sprint([]Upload{{"b", "other", "id-2"}}) {
		t.Fatalf("orphans %v", got)
	}
	if _, err := os.Stat(d.Root()); !os.IsNotExist(err) {
		t.Fatal("the dead mount's directory was not removed")
	}
}
