package objstoretest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// listingKeys is a small tree whose byte order differs from naive expectations:
// "Z" sorts before "a", "e-" (0x2d) before "e/" (0x2f), and "é" (0xc3 0xa9)
// after every ASCII key.
var listingKeys = []string{"Z", "a", "b/1", "b/2", "c", "d/x/y", "e-", "e/f", "é"}

func seed(t *testing.T, c objstore.Client, prefix string, rel []string) {
	t.Helper()
	for _, k := range rel {
		put(t, c, prefix+k, []byte(k))
	}
}

// entry is one element of a listing: an object key or a common prefix.
type entry struct {
	name     string
	isPrefix bool
}

func (e entry) String() string {
	if e.isPrefix {
		return e.name + "(prefix)"
	}
	return e.name
}

// pageEntries merges one page's objects and prefixes in byte order, checking
// that each list is itself sorted as S3 promises.
func pageEntries(t *testing.T, out objstore.ListOutput) []entry {
	t.Helper()
	var es []entry
	var keys []string
	for _, o := range out.Objects {
		keys = append(keys, o.Key)
		es = append(es, entry{o.Key, false})
	}
	if !slices.IsSorted(keys) {
		t.Errorf("page objects not sorted: %q", keys)
	}
	if !slices.IsSorted(out.CommonPrefixes) {
		t.Errorf("page prefixes not sorted: %q", out.CommonPrefixes)
	}
	for _, p := range out.CommonPrefixes {
		es = append(es, entry{p, true})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return es
}

// listAll pages through a listing with the given MaxKeys and returns every
// entry in order, failing if a page is oversized or entries repeat or go backwards.
func listAll(t *testing.T, c objstore.Client, in objstore.ListInput) []entry {
	t.Helper()
	var all []entry
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("listing does not terminate")
		}
		out, err := c.List(ctx(t), in)
		if err != nil {
			t.Fatalf("List(%+v): %v", in, err)
		}
		es := pageEntries(t, out)
		if in.MaxKeys > 0 && len(es) > in.MaxKeys {
			t.Errorf("page %d has %d entries, MaxKeys %d", page, len(es), in.MaxKeys)
		}
		for _, e := range es {
			if n := len(all); n > 0 && all[n-1].name >= e.name {
				t.Fatalf("page %d: entry %v after %v: listing not strictly increasing", page, e, all[n-1])
			}
			all = append(all, e)
		}
		if out.NextContinuationToken == "" {
			return all
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

func entriesOf(prefix string, objects, prefixes []string) []entry {
	var es []entry
	for _, o := range objects {
		es = append(es, entry{prefix + o, false})
	}
	for _, p := range prefixes {
		es = append(es, entry{prefix + p, true})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return es
}

func checkEntries(t *testing.T, what string, got, want []entry) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func testListDelimiter(t *testing.T, c objstore.Client, prefix string) {
	seed(t, c, prefix, listingKeys)
	want := entriesOf(prefix, []string{"Z", "a", "c", "e-", "é"}, []string{"b/", "d/", "e/"})
	for _, maxKeys := range []int{0, 1, 2, 3, 1000} {
		got := listAll(t, c, objstore.ListInput{Prefix: prefix, Delimiter: "/", MaxKeys: maxKeys})
		checkEntries(t, fmt.Sprintf("delimiter listing, MaxKeys %d", maxKeys), got, want)
	}
	// One level down, and a prefix that is not a "directory".
	got := listAll(t, c, objstore.ListInput{Prefix: prefix + "d/", Delimiter: "/"})
	checkEntries(t, "listing of d/", got, entriesOf(prefix, nil, []string{"d/x/"}))
	got = listAll(t, c, objstore.ListInput{Prefix: prefix + "e", Delimiter: "/"})
	checkEntries(t, "listing of prefix e", got, entriesOf(prefix, []string{"e-"}, []string{"e/"}))

	// Objects carry their metadata in a listing.
	out, err := c.List(ctx(t), objstore.ListInput{Prefix: prefix + "a", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Head(ctx(t), prefix+"a")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) != 1 || out.Objects[0].Size != 1 || out.Objects[0].ETag != info.ETag || out.Objects[0].LastModified.IsZero() {
		t.Errorf("List of %q = %+v, want one object of size 1 with etag %s", prefix+"a", out.Objects, info.ETag)
	}
}

func testListPaging(t *testing.T, c objstore.Client, prefix string) {
	// 20 objects and 10 common prefixes interleaved, paged 7 at a time, so that
	// pages end both on objects and on prefixes.
	var rel, objects, prefixes []string
	for i := range 20 {
		k := fmt.Sprintf("k%02d", i)
		rel = append(rel, k)
		objects = append(objects, k)
		if i%2 == 0 {
			d := fmt.Sprintf("k%02d-dir/", i)
			rel = append(rel, d+"one", d+"two", d+"sub/three")
			prefixes = append(prefixes, d)
		}
	}
	seed(t, c, prefix, rel)
	want := entriesOf(prefix, objects, prefixes)
	for _, maxKeys := range []int{7, 3, 1} {
		got := listAll(t, c, objstore.ListInput{Prefix: prefix, Delimiter: "/", MaxKeys: maxKeys})
		checkEntries(t, fmt.Sprintf("paged listing, MaxKeys %d", maxKeys), got, want)
	}
	// The first page of a long listing must say it is truncated.
	out, err := c.List(ctx(t), objstore.ListInput{Prefix: prefix, Delimiter: "/", MaxKeys: 7})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextContinuationToken == "" || len(out.Objects)+len(out.CommonPrefixes) != 7 {
		t.Errorf("first page: %d objects, %d prefixes, token %q; want 7 entries and a token",
			len(out.Objects), len(out.CommonPrefixes), out.NextContinuationToken)
	}
}

func testListFlatPaging(t *testing.T, c objstore.Client, prefix string) {
	seed(t, c, prefix, listingKeys)
	want := entriesOf(prefix, listingKeys, nil)
	for _, maxKeys := range []int{0, 4, 1} {
		got := listAll(t, c, objstore.ListInput{Prefix: prefix, MaxKeys: maxKeys})
		checkEntries(t, fmt.Sprintf("flat listing, MaxKeys %d", maxKeys), got, want)
	}
}

func testListStartAfter(t *testing.T, c objstore.Client, prefix string) {
	seed(t, c, prefix, listingKeys)
	got := listAll(t, c, objstore.ListInput{Prefix: prefix, StartAfter: prefix + "b/1", MaxKeys: 2})
	checkEntries(t, "flat listing after b/1", got, entriesOf(prefix, []string{"b/2", "c", "d/x/y", "e-", "e/f", "é"}, nil))
	got = listAll(t, c, objstore.ListInput{Prefix: prefix, Delimiter: "/", StartAfter: prefix + "c"})
	checkEntries(t, "delimiter listing after c", got, entriesOf(prefix, []string{"e-", "é"}, []string{"d/", "e/"}))
}

func testListEmpty(t *testing.T, c objstore.Client, prefix string) {
	out, err := c.List(ctx(t), objstore.ListInput{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		t.Fatalf("List of an empty prefix: %v", err)
	}
	if len(out.Objects) != 0 || len(out.CommonPrefixes) != 0 || out.NextContinuationToken != "" {
		t.Errorf("List of an empty prefix = %+v, want nothing", out)
	}
}

// specialKeys need escaping in URLs, in XML listings, or both.
var specialKeys = []string{"sp ace", "plus+sign", "per%cent", "per%25cent", "amp&er<gt>", "q?mark#hash",
	"uni-é-ü-日本", "tilde~'quote\"", "ctl\x01char", "semi;colon=eq"}

func testSpecialCharacterKeys(t *testing.T, c objstore.Client, prefix string) {
	for _, k := range specialKeys {
		put(t, c, prefix+"d/"+k, []byte(k))
		put(t, c, prefix+k+"/child", []byte(k))
	}
	for _, k := range specialKeys {
		info, err := c.Head(ctx(t), prefix+"d/"+k)
		if err != nil || info.Size != int64(len(k)) {
			t.Errorf("Head(%q) = %+v, %v", k, info, err)
		}
		g, err := c.Get(ctx(t), objstore.GetInput{Key: prefix + "d/" + k, Length: -1})
		if err != nil {
			t.Errorf("Get(%q): %v", k, err)
			continue
		}
		if got := string(readAll(t, g)); got != k {
			t.Errorf("Get(%q) = %q", k, got)
		}
	}
	var objects, prefixes []string
	for _, k := range specialKeys {
		objects = append(objects, "d/"+k)
		prefixes = append(prefixes, k+"/")
	}
	got := listAll(t, c, objstore.ListInput{Prefix: prefix + "d/", Delimiter: "/", MaxKeys: 3})
	checkEntries(t, "listing of special keys", got, entriesOf(prefix, objects, nil))
	got = listAll(t, c, objstore.ListInput{Prefix: prefix, Delimiter: "/", MaxKeys: 4})
	checkEntries(t, "listing of special prefixes", got, entriesOf(prefix, nil, append(prefixes, "d/")))
	for _, k := range specialKeys {
		if err := c.Delete(ctx(t), prefix+"d/"+k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	got = listAll(t, c, objstore.ListInput{Prefix: prefix + "d/"})
	checkEntries(t, "listing after deleting special keys", got, nil)
}
