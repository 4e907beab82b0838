package metadata

import (
	"container/heap"
	"context"
	"fmt"
	"strings"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Lister streams the entries of one directory in name order, one
// ListObjectsV2 page at a time, instead of holding the whole directory.
//
// S3 returns keys in key order, which is not name order: the directory "a"
// comes back as the prefix "a/", after keys such as "a-b" or "a.txt"
// ('-' and '.' sort before '/'), yet the name "a" sorts before "a-b". An
// entry is therefore held until no later key can sort before it or shadow it.
// For a name N, the only later keys that matter are directories named by a
// prefix D of N followed by a byte below '/', and the directory N itself;
// the largest of their keys is D0+"/" for the shortest such D0 (or N+"/" when
// there is none). Once the listing has passed that key, N is final. In
// practice a handful of entries are held; in the worst case (every name
// shares such a prefix) the whole directory is.
type Lister struct {
	c        objstore.Client
	dirKey   string
	pageSize int

	token   string
	started bool
	done    bool
	pos     string // the largest key or prefix returned so far

	pending entryHeap
	byName  map[string]*heapItem

	// pages come from a goroutine that pages through the listing ahead of
	// the caller: it asks for the next page as soon as one arrives, not when
	// the caller has used up the one before, so that the server always has
	// the next page to work on while the caller (the kernel taking entries)
	// works on the last. The goroutine runs at most aheadPages pages ahead
	// (one waiting in the channel, one more waiting to be put there).
	pages chan pageResult
	stop  context.CancelFunc // ends the goroutine (Close)
	// last is the last name returned. Names come out in strictly rising
	// order, so a server that repeats a name (or sends one that sorts
	// before it, too late) is not believed twice — with no set of every
	// name returned.
	last    string
	emitted bool // a name was returned (last is it)
}

// aheadPages is how many pages the lister may have received and not yet
// handed out (about 150 KiB each at 1,000 keys a page).
const aheadPages = 2

// NewLister lists the directory whose key prefix is dirKey ("" or ending in "/").
// pageSize 0 means the server default.
func NewLister(c objstore.Client, dirKey string, pageSize int) *Lister {
	return &Lister{c: c, dirKey: dirKey, pageSize: pageSize, byName: map[string]*heapItem{}}
}

// AddLocal merges an entry that exists only locally (a directory made by
// mkdir, a file being written). A remote directory of the same name shadows
// it; it shadows a remote file. Call before the first Next.
func (l *Lister) AddLocal(e Entry) { l.add(e, true) }

// Next returns the next entry in name order; ok is false at the end.
func (l *Lister) Next(ctx context.Context) (e Entry, ok bool, err error) {
	for {
		if len(l.pending) > 0 && (l.done || l.pos >= l.safeKey(l.pending[0].e.Name)) {
			it := heap.Pop(&l.pending).(*heapItem)
			delete(l.byName, it.e.Name)
			if l.emitted && it.e.Name <= l.last {
				continue
			}
			l.last, l.emitted = it.e.Name, true
			return it.e, true, nil
		}
		if l.done {
			return Entry{}, false, nil
		}
		if err := l.fetch(ctx); err != nil {
			return Entry{}, false, err
		}
	}
}

// safeKey is the key the listing must have passed for name to be final.
func (l *Lister) safeKey(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] < '/' {
			return l.dirKey + name[:i] + "/"
		}
	}
	return l.dirKey + name + "/"
}

type pageResult struct {
	out objstore.ListOutput
	err error
}

// Close stops the paging ahead (pages on their way are dropped). A later
// Next would start it again from where the listing stands.
func (l *Lister) Close() {
	if l.stop != nil {
		l.stop()
		l.stop, l.pages = nil, nil
	}
}

// page lists pages from token on into pages until the last one, a failure
// (which it sends too) or Close.
func (l *Lister) page(ctx context.Context, token string, pages chan<- pageResult) {
	for {
		out, err := l.c.List(ctx, objstore.ListInput{
			Prefix: l.dirKey, Delimiter: "/", ContinuationToken: token, MaxKeys: l.pageSize,
		})
		select {
		case pages <- pageResult{out, err}:
		case <-ctx.Done():
			return
		}
		if err != nil || out.NextContinuationToken == "" {
			return
		}
		token = out.NextContinuationToken
	}
}

// fetch takes in one more page. The first call starts the paging, on a
// context of its own: the caller's (one readdir request) ends long before
// the last page. After a failure the next call starts again from the page
// that failed.
func (l *Lister) fetch(ctx context.Context) error {
	if l.pages == nil {
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		l.pages, l.stop = make(chan pageResult, aheadPages-1), stop
		go l.page(pctx, l.token, l.pages)
	}
	var r pageResult
	select {
	case r = <-l.pages:
	case <-ctx.Done():
		return ctx.Err()
	}
	out, err := r.out, r.err
	if err != nil {
		l.Close() // the goroutine has ended; the next fetch asks again
		return fmt.Errorf("list %q: %w", l.dirKey, err)
	}
	l.started = true
	for _, p := range out.CommonPrefixes {
		l.pos = max(l.pos, p)
		if name := strings.TrimSuffix(strings.TrimPrefix(p, l.dirKey), "/"); ValidName(name) {
			l.add(Entry{Name: name, Kind: Dir}, false)
		}
	}
	for _, o := range out.Objects {
		l.pos = max(l.pos, o.Key)
		if name := strings.TrimPrefix(o.Key, l.dirKey); ValidName(name) { // skips markers and "."
			l.add(Entry{Name: name, Kind: File, Size: o.Size, ETag: o.ETag, Mtime: o.LastModified}, false)
		}
	}
	l.token = out.NextContinuationToken
	l.done = l.token == ""
	if l.done {
		l.Close()
	}
	return nil
}

// add puts e in the pending set, applying the shadowing order:
// remote directory > local entry > remote file.
func (l *Lister) add(e Entry, local bool) {
	if old, ok := l.byName[e.Name]; ok {
		rank := func(e Entry, local bool) int {
			switch {
			case e.Kind == Dir && !local:
				return 3
			case local:
				return 2
			default:
				return 1
			}
		}
		if rank(e, local) > rank(old.e, old.local) {
			e.Local = local
			old.e, old.local = e, local
		}
		return
	}
	e.Local = local
	it := &heapItem{e: e, local: local}
	l.byName[e.Name] = it
	heap.Push(&l.pending, it)
}

type heapItem struct {
	e     Entry
	local bool
}

type entryHeap []*heapItem

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].e.Name < h[j].e.Name }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(*heapItem)) }
func (h *entryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
