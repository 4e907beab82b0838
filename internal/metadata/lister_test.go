package metadata

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
)

// expected computes a directory's entries straight from the key set: the
// reference the streaming Lister must match exactly.
func expected(keys []string, dirKey string) []string {
	kinds := map[string]Kind{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, dirKey)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if ValidName(rest[:i]) {
				kinds[rest[:i]] = Dir
			}
		} else if ValidName(rest) && kinds[rest] != Dir {
			kinds[rest] = File
		}
	}
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = name + ":" + kinds[name].String()
	}
	return out
}

func streamed(t *testing.T, l *Lister) []string {
	t.Helper()
	var out []string
	for {
		e, ok, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, e.Name+":"+e.Kind.String())
	}
}

// TestListerMatchesReference lists random key sets whose names mix bytes
// that sort below '/' ('-', '.', '!') with ordinary ones, at small page
// sizes, and requires exactly the reference's names in name order.
func TestListerMatchesReference(t *testing.T) {
	alphabet := []string{"a", "b", "-", ".", "!", "0", "Z", "/"}
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 200; round++ {
		store := memstore.New("b")
		var keys []string
		for i := 0; i < 1+rng.Intn(40); i++ {
			var sb strings.Builder
			sb.WriteString("d/")
			for j := 0; j < 1+rng.Intn(5); j++ {
				sb.WriteString(alphabet[rng.Intn(len(alphabet))])
			}
			keys = append(keys, sb.String())
			store.PutObject(sb.String(), nil)
		}
		page := 1 + rng.Intn(4)
		got := streamed(t, NewLister(store, "d/", page))
		want := expected(keys, "d/")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d, keys %q, page %d:\n got %v\nwant %v", round, keys, page, got, want)
		}
	}
}

func TestListerHoldsOnlyWhatItMust(t *testing.T) {
	// Ordinary names are final as soon as the listing passes them: with
	// 10,000 entries and pages of 100, the first entry comes after one page
	// (and the next aheadPages pages are asked for ahead of need).
	store := memstore.New("b")
	for i := 0; i < 10_000; i++ {
		store.PutObject(fmt.Sprintf("big/file%05d", i), nil)
	}
	l := NewLister(store, "big/", 100)
	if _, ok, err := l.Next(context.Background()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	time.Sleep(50 * time.Millisecond) // let the pages asked ahead arrive
	if lists := store.Count("List"); lists != 1+aheadPages {
		t.Fatalf("%d pages requested for the first entry, want 1 and %d ahead", lists, aheadPages)
	}
	l.Close()
}

// The next page is asked for as soon as the one before arrives, not when
// the caller has used it up: the caller still holds the second page when
// the third and fourth are requested. Close stops the paging.
func TestListerPagesAheadOfTheCaller(t *testing.T) {
	store := memstore.New("b")
	for i := 0; i < 1000; i++ {
		store.PutObject(fmt.Sprintf("d/f%04d", i), nil)
	}
	l := NewLister(store, "d/", 100)
	ctx := context.Background()
	for i := 0; i < 101; i++ { // the first page and one entry of the second
		if _, ok, err := l.Next(ctx); !ok || err != nil {
			t.Fatal(i, ok, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for store.Count("List") < 2+aheadPages && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := store.Count("List"); n != 2+aheadPages {
		t.Fatalf("%d pages requested while the caller is on page 2, want %d", n, 2+aheadPages)
	}
	l.Close()
	time.Sleep(20 * time.Millisecond)
	if n := store.Count("List"); n != 2+aheadPages {
		t.Errorf("%d pages requested after Close, want still %d", n, 2+aheadPages)
	}
}

func TestListerMergesLocalEntries(t *testing.T) {
	store := memstore.New("b")
	for _, k := range []string{"d/remote-dir/x", "d/shadowed", "d/plain"} {
		store.PutObject(k, nil)
	}
	l := NewLister(store, "d/", 1)
	l.AddLocal(Entry{Name: "remote-dir", Kind: Dir}) // the remote directory wins
	l.AddLocal(Entry{Name: "shadowed", Kind: File})  // a file being written wins over the remote file
	l.AddLocal(Entry{Name: "new", Kind: Dir})
	var got []string
	for {
		e, ok, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%s:%s:%v", e.Name, e.Kind, e.Local))
	}
	want := []string{"new:directory:true", "plain:file:false", "remote-dir:directory:false", "shadowed:file:true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
