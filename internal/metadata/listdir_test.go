package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

// entry is an Entry reduced to what a listing test compares.
type entry struct {
	name string
	kind metadata.Kind
}

func f(name string) entry { return entry{name, metadata.File} }
func d(name string) entry { return entry{name, metadata.Dir} }

func names(es []metadata.Entry) []entry {
	out := make([]entry, len(es))
	for i, e := range es {
		out[i] = entry{e.Name, e.Kind}
	}
	return out
}

var pageSizes = []int{0, 1, 2, 3, 7}

func TestListDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keys   []string
		dirKey string
		want   []entry
	}{
		{"empty bucket", nil, "", []entry{}},
		{"files and directories", []string{"b", "a", "c/x", "c/y/z", "e/"}, "",
			[]entry{f("a"), f("b"), d("c"), d("e")}},
		// A page holds its prefixes and its objects in two lists: the merged
		// result must still be sorted ("a" before the directory "b").
		{"objects sort before later prefixes", []string{"b/x", "a", "c"}, "",
			[]entry{f("a"), d("b"), f("c")}},
		// S3 orders keys "a!", "a-b", "a.b" before the prefix "a/", but the
		// name "a" sorts before them all.
		{"name order, not key order", []string{"a-b", "a/x", "a0", "a.b", "a!"}, "",
			[]entry{d("a"), f("a!"), f("a-b"), f("a.b"), f("a0")}},
		{"directory shadows file", []string{"a", "a/x", "a-b", "b", "b/"}, "",
			[]entry{d("a"), f("a-b"), d("b")}},
		{"marker alone is a directory", []string{"m/", "n/", "n/deep/"}, "",
			[]entry{d("m"), d("n")}},
		{"directory's own marker is not an entry", []string{"d/", "d/x", "d/y/"}, "d/",
			[]entry{f("x"), d("y")}},
		{"unnamable keys hidden", []string{
			"d/", "d/.", "d/..", "d/./x", "d/../x", "d//x", "d//",
			"d/n\x00ul", "d/dir\x00nul/x", "d/ok", "d/sub/", "d/.ok", "d/..ok/x",
		}, "d/", []entry{d("..ok"), f(".ok"), f("ok"), d("sub")}},
		{"odd keys still make their parent a directory", []string{"p//x", "q/./x", "r/../x"}, "",
			[]entry{d("p"), d("q"), d("r")}},
		{"only the directory's own keys", []string{"d", "d-x", "d/a", "d/b/c", "d0/z", "e/d/y"}, "d/",
			[]entry{f("a"), d("b")}},
		{"bytes, not runes or case", []string{"B", "a", "é", "z", "Z/", "~"}, "",
			[]entry{f("B"), d("Z"), f("a"), f("z"), f("~"), f("é")}},
	} {
		for _, ps := range pageSizes {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, ps), func(t *testing.T) {
				s := newStore(tc.keys...)
				got, err := listDir(context.Background(), s, tc.dirKey, ps)
				if err != nil {
					t.Fatal(err)
				}
				if g := names(got); !slices.Equal(g, tc.want) {
					t.Errorf("ListDir(%q) = %v, want %v", tc.dirKey, g, tc.want)
				}
				if s.Count(memstore.OpHead) != 0 {
					t.Errorf("ListDir issued %d HEAD requests", s.Count(memstore.OpHead))
				}
			})
		}
	}
}

func TestListDirEntryStat(t *testing.T) {
	s := newStore("d/small", "d/sub/x")
	s.PutObject("d/big", make([]byte, 12345))
	got, err := listDir(context.Background(), s, "d/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if g := names(got); !slices.Equal(g, []entry{f("big"), f("small"), d("sub")}) {
		t.Fatalf("ListDir = %v", g)
	}
	for _, e := range got {
		if e.Local {
			t.Errorf("entry %+v from S3 is marked local", e)
		}
		if e.Kind == metadata.Dir {
			if e.Size != 0 || e.ETag != "" {
				t.Errorf("directory %+v carries a file's stat", e)
			}
			continue
		}
		info, err := s.Head(context.Background(), "d/"+e.Name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Size != info.Size || e.ETag != info.ETag || !e.Mtime.Equal(clock) {
			t.Errorf("entry %+v, want size %d etag %s mtime %v", e, info.Size, info.ETag, clock)
		}
	}
}

func TestListDirPaging(t *testing.T) {
	// 40 files and 30 directories (each with two keys and a marker), in
	// interleaved key order, so pages end on objects and on prefixes.
	s := newStore()
	var want []entry
	for i := range 70 {
		name := fmt.Sprintf("n%02d", i)
		if i%7 < 3 {
			s.PutObject("top/"+name+"/", nil)
			s.PutObject("top/"+name+"/a", nil)
			s.PutObject("top/"+name+"/b/c", nil)
			want = append(want, d(name))
		} else {
			s.PutObject("top/"+name, nil)
			want = append(want, f(name))
		}
	}
	s.PutObject("top/n05", nil) // a file shadowed by the directory n05
	for _, tc := range []struct{ pageSize, pages int }{
		{1, 70}, {2, 35}, {3, 24}, {7, 10}, {69, 2}, {70, 1}, {0, 1}, {1000, 1},
	} {
		s.ResetCounts()
		got, err := listDir(context.Background(), s, "top/", tc.pageSize)
		if err != nil {
			t.Fatal(err)
		}
		if g := names(got); !slices.Equal(g, want) {
			t.Errorf("page size %d: %d entries %v, want %d %v", tc.pageSize, len(g), g, len(want), want)
		}
		if n := s.Count(memstore.OpList); n != tc.pages {
			t.Errorf("page size %d: %d LIST requests, want %d", tc.pageSize, n, tc.pages)
		}
	}
}

func TestListDirBeyondOneServerPage(t *testing.T) {
	s := newStore()
	var want []entry
	for i := range 2500 {
		name := fmt.Sprintf("%05d", i)
		if i%10 == 0 {
			s.PutObject(name+"/x", nil)
			want = append(want, d(name))
		} else {
			s.PutObject(name, nil)
			want = append(want, f(name))
		}
	}
	got, err := listDir(context.Background(), s, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := names(got); !slices.Equal(g, want) {
		t.Errorf("got %d entries, want %d", len(g), len(want))
	}
	if n := s.Count(memstore.OpList); n != 3 {
		t.Errorf("%d LIST requests, want 3 pages of 1000", n)
	}
}

func TestListDirError(t *testing.T) {
	for _, failAt := range []int32{1, 2, 4} {
		s := newStore()
		for i := range 10 {
			s.PutObject(fmt.Sprintf("d/f%d", i), nil)
		}
		fc := objstoretest.NewFaulty(s)
		var calls atomic.Int32
		fc.Inject(func(op, key string) error {
			if op == memstore.OpList && calls.Add(1) == failAt {
				return fmt.Errorf("injected on page %d: %w", failAt, objstore.ErrThrottled)
			}
			return nil
		})
		got, err := listDir(context.Background(), fc, "d/", 3)
		if !errors.Is(err, objstore.ErrThrottled) || got != nil {
			t.Errorf("failure on page %d: ListDir = %v, %v; want nil and ErrThrottled", failAt, names(got), err)
		}
		if calls.Load() != failAt {
			t.Errorf("failure on page %d: ListDir went on to %d LIST requests", failAt, calls.Load())
		}
	}
	// After a failed page, listing on asks for that page again and goes on
	// where it stopped: every name once, in order.
	s := newStore()
	var want []string
	for i := range 10 {
		s.PutObject(fmt.Sprintf("d/f%d", i), nil)
		want = append(want, fmt.Sprintf("f%d", i))
	}
	fc := objstoretest.NewFaulty(s)
	var calls atomic.Int32
	fc.Inject(func(op, key string) error {
		if op == memstore.OpList && calls.Add(1) == 2 {
			return fmt.Errorf("injected: %w", objstore.ErrThrottled)
		}
		return nil
	})
	l := metadata.NewLister(fc, "d/", 3)
	var got []string
	failures := 0
	for {
		e, ok, err := l.Next(context.Background())
		if err != nil {
			if failures++; failures > 1 || !errors.Is(err, objstore.ErrThrottled) {
				t.Fatalf("Next after %q: %v", got, err)
			}
			continue
		}
		if !ok {
			break
		}
		got = append(got, e.Name)
	}
	if !slices.Equal(got, want) || failures != 1 || calls.Load() != 5 {
		t.Errorf("listing on after a failed page: %q with %d failures and %d LIST requests; want %q, 1 and 5", got, failures, calls.Load(), want)
	}

	s = newStore("x")
	s.SetMissingBucket(true)
	if _, err := listDir(context.Background(), s, "", 0); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("missing bucket: %v", err)
	}
}

// scripted serves fixed pages, to check ListDir against listings that
// memstore never produces.
type scripted struct {
	objstore.Client
	pages []objstore.ListOutput
	calls int
}

func (s *scripted) List(_ context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	want := ""
	if s.calls > 0 {
		want = fmt.Sprint(s.calls)
	}
	if in.ContinuationToken != want || s.calls >= len(s.pages) {
		return objstore.ListOutput{}, fmt.Errorf("call %d with token %q", s.calls, in.ContinuationToken)
	}
	out := s.pages[s.calls]
	s.calls++
	if s.calls < len(s.pages) {
		out.NextContinuationToken = fmt.Sprint(s.calls)
	}
	return out, nil
}

func TestListDirMergesPages(t *testing.T) {
	obj := func(k string) objstore.ObjectInfo { return objstore.ObjectInfo{Key: k} }
	// Pages in S3's key order. A file is shadowed by its directory's prefix
	// pages later, and a prefix a server repeats on a later page is listed once.
	c := &scripted{pages: []objstore.ListOutput{
		{Objects: []objstore.ObjectInfo{obj("d/0"), obj("d/a")}},
		{}, // an empty page in the middle ends nothing
		{Objects: []objstore.ObjectInfo{obj("d/a-z")}, CommonPrefixes: []string{"d/a/"}},
		{Objects: []objstore.ObjectInfo{obj("d/c")}, CommonPrefixes: []string{"d/a/", "d/b/"}},
		{CommonPrefixes: []string{"d/c/"}},
	}}
	got, err := listDir(context.Background(), c, "d/", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{f("0"), d("a"), f("a-z"), d("b"), d("c")}
	if g := names(got); !slices.Equal(g, want) {
		t.Errorf("ListDir = %v, want %v", g, want)
	}
	if c.calls != len(c.pages) {
		t.Errorf("%d pages read, want %d", c.calls, len(c.pages))
	}
}

// Lookup and ListDir must agree on every name: what a listing shows, a lookup
// finds with the same kind, and a listed directory's contents list in turn.
func TestLookupAgreesWithListDir(t *testing.T) {
	s := newStore(
		"a", "a/b", "a/b/", "a-b", "a.b", "a//x", "a/./y", "a/../z", "a/\x00", "c/", "c/d/e/f",
		"dup", "dup/", "x\x00y/z", "/root", "m/", "m/n", "m/n/o",
	)
	var walk func(dirKey string)
	walk = func(dirKey string) {
		entries, err := listDir(context.Background(), s, dirKey, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			got, err := metadata.Lookup(context.Background(), s, dirKey, e.Name, 0)
			if err != nil || got.Kind != e.Kind || got.Name != e.Name || got.ETag != e.ETag || got.Size != e.Size {
				t.Errorf("in %q: ListDir has %+v, Lookup has %+v, %v", dirKey, e, got, err)
			}
			if e.Kind == metadata.Dir {
				walk(dirKey + e.Name + "/")
			}
		}
		// Every key's first component below dirKey is either listed or unnamable.
		for _, k := range s.Keys() {
			rest, ok := strings.CutPrefix(k, dirKey)
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, "/")
			listed := slices.ContainsFunc(entries, func(e metadata.Entry) bool { return e.Name == name })
			if listed != metadata.ValidName(name) {
				t.Errorf("in %q: key %q gives name %q, listed %v", dirKey, k, name, listed)
			}
		}
	}
	walk("")
}

// listDir lists every visible entry of the directory whose key prefix is
// dirKey, paging through ListObjectsV2. The result is sorted by name, each
// name once, directories shadowing files. pageSize 0 means the server default.
func listDir(ctx context.Context, c objstore.Client, dirKey string, pageSize int) ([]metadata.Entry, error) {
	l := metadata.NewLister(c, dirKey, pageSize)
	var entries []metadata.Entry
	for {
		e, ok, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return entries, nil
		}
		entries = append(entries, e)
	}
}
