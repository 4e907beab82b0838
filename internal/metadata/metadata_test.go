package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

var clock = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func newStore(keys ...string) *memstore.Store {
	s := memstore.New("bucket", memstore.WithClock(func() time.Time { return clock }))
	for _, k := range keys {
		s.PutObject(k, []byte("content of "+k))
	}
	return s
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"a", true},
		{"file.txt", true},
		{".hidden", true},
		{"...", true},
		{"..a", true},
		{" ", true},
		{"a-b", true},
		{"ünïcødé", true},
		{strings.Repeat("x", 300), true},
		{"", false},
		{".", false},
		{"..", false},
		{"/", false},
		{"a/b", false},
		{"a/", false},
		{"/a", false},
		{"\x00", false},
		{"a\x00b", false},
		{"a\x00", false},
	} {
		if got := metadata.ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKindString(t *testing.T) {
	if metadata.File.String() != "file" || metadata.Dir.String() != "directory" {
		t.Errorf("File = %q, Dir = %q", metadata.File, metadata.Dir)
	}
}

func TestLookup(t *testing.T) {
	keys := []string{
		"file", "dir/child", "both", "both/child", "marker/", "d/sub/f", "d/f",
		"a-b", "ab", "odd//x", "dot/./x",
	}
	for _, tc := range []struct {
		dirKey, name string
		kind         metadata.Kind // 0: ErrNotFound
		object       string        // key whose stat a file must carry
	}{
		{"", "file", metadata.File, "file"},
		{"", "dir", metadata.Dir, ""},
		{"", "both", metadata.Dir, ""}, // the directory wins over the file "both"
		{"", "marker", metadata.Dir, ""},
		{"", "d", metadata.Dir, ""},
		{"d/", "sub", metadata.Dir, ""},
		{"d/", "f", metadata.File, "d/f"},
		{"", "a-b", metadata.File, "a-b"},
		{"", "a", 0, ""},       // "a-b" and "ab" exist, but neither "a" nor "a/..."
		{"", "f", 0, ""},       // "d/f" is not in the root
		{"", "child", 0, ""},   // nor are the children of "dir"
		{"", "missing", 0, ""}, // nothing at all
		{"dir/", "missing", 0, ""},
		{"", "odd", metadata.Dir, ""}, // "odd//x" makes "odd" a directory, as ListDir shows it
		{"", "dot", metadata.Dir, ""},
		{"marker/", "x", 0, ""},
	} {
		t.Run(tc.dirKey+"|"+tc.name, func(t *testing.T) {
			s := newStore(keys...)
			e, err := metadata.Lookup(context.Background(), s, tc.dirKey, tc.name, 0)
			if tc.kind == 0 {
				if !errors.Is(err, metadata.ErrNotFound) || !errors.Is(err, objstore.ErrNotFound) {
					t.Fatalf("Lookup = %+v, %v; want ErrNotFound (wrapping objstore.ErrNotFound)", e, err)
				}
				if s.Count(memstore.OpHead) != 1 || s.Count(memstore.OpList) != 1 {
					t.Errorf("not found after %d HEAD, %d LIST; want 1 and 1", s.Count(memstore.OpHead), s.Count(memstore.OpList))
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if e.Name != tc.name || e.Kind != tc.kind {
				t.Errorf("Lookup = %+v, want name %q kind %v", e, tc.name, tc.kind)
			}
			if tc.kind == metadata.Dir {
				if e.Size != 0 || e.ETag != "" {
					t.Errorf("directory entry carries a file's stat: %+v", e)
				}
				if s.Count(memstore.OpList) != 1 || s.Count(memstore.OpHead) > 1 {
					t.Errorf("%d LIST, %d HEAD; want 1 and at most 1", s.Count(memstore.OpList), s.Count(memstore.OpHead))
				}
				return
			}
			info, err := s.Head(context.Background(), tc.object)
			if err != nil {
				t.Fatal(err)
			}
			if e.Size != info.Size || e.ETag != info.ETag || !e.Mtime.Equal(clock) || e.Size != int64(len("content of "+tc.object)) {
				t.Errorf("Lookup = %+v; want size %d etag %s mtime %v", e, info.Size, info.ETag, clock)
			}
			if s.Count(memstore.OpHead) != 2 || s.Count(memstore.OpList) != 1 { // our own HEAD included
				t.Errorf("%d HEAD, %d LIST; want 1 and 1", s.Count(memstore.OpHead)-1, s.Count(memstore.OpList))
			}
		})
	}
}

func TestLookupInvalidNamesCostNothing(t *testing.T) {
	// Keys exist for every one of these names; none may be reachable.
	s := newStore("./x", "../x", "/x", "x\x00y", "x\x00y/z", "a/b", ".", "..", "")
	for _, name := range []string{"", ".", "..", "a/b", "/x", "x/", "x\x00y", "\x00"} {
		e, err := metadata.Lookup(context.Background(), s, "", name, 0)
		if !errors.Is(err, metadata.ErrNotFound) {
			t.Errorf("Lookup(%q) = %+v, %v; want ErrNotFound", name, e, err)
		}
	}
	if n := s.Count(memstore.OpHead) + s.Count(memstore.OpList); n != 0 {
		t.Errorf("invalid names cost %d requests", n)
	}
}

// rendezvous makes the stat (HEAD or GET) and LIST each wait until the other
// has been issued: a Lookup that sends them one after the other blocks until
// the timeout.
type rendezvous struct {
	objstore.Client
	head, list chan struct{}
	headOnce   sync.Once
	listOnce   sync.Once
	missed     atomic.Int32
}

func newRendezvous(c objstore.Client) *rendezvous {
	return &rendezvous{Client: c, head: make(chan struct{}), list: make(chan struct{})}
}

func (r *rendezvous) await(ch chan struct{}) {
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		r.missed.Add(1)
	}
}

func (r *rendezvous) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	r.headOnce.Do(func() { close(r.head) })
	r.await(r.list)
	return r.Client.Head(context.WithoutCancel(ctx), key)
}

func (r *rendezvous) Get(ctx context.Context, in objstore.GetInput) (*objstore.GetOutput, error) {
	r.headOnce.Do(func() { close(r.head) })
	r.await(r.list)
	return r.Client.Get(context.WithoutCancel(ctx), in)
}

func (r *rendezvous) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	r.listOnce.Do(func() { close(r.list) })
	r.await(r.head)
	return r.Client.List(ctx, in)
}

func TestLookupRacesStatWithList(t *testing.T) {
	for _, mode := range []struct {
		dataMax int64
		statOp  string
	}{{0, memstore.OpHead}, {64, memstore.OpGet}} {
		s := newStore("file", "dir/x")
		for _, tc := range []struct {
			name string
			kind metadata.Kind
		}{{"file", metadata.File}, {"dir", metadata.Dir}} {
			r := newRendezvous(s)
			e, err := metadata.Lookup(context.Background(), r, "", tc.name, mode.dataMax)
			if err != nil || e.Kind != tc.kind {
				t.Errorf("Lookup(%q, %d) = %+v, %v", tc.name, mode.dataMax, e, err)
			}
			if r.missed.Load() != 0 {
				t.Errorf("Lookup(%q, %d): %s and LIST were not in flight at the same time", tc.name, mode.dataMax, mode.statOp)
			}
		}
		// The stat of "dir" may finish after Lookup returned; it must still have been sent.
		deadline := time.Now().Add(2 * time.Second)
		for s.Count(mode.statOp) != 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if s.Count(mode.statOp) != 2 || s.Count(memstore.OpList) != 2 || s.Count(memstore.OpHead)+s.Count(memstore.OpGet) != 2 {
			t.Errorf("dataMax %d: %d HEAD, %d GET, %d LIST; want 2 %s and 2 LIST", mode.dataMax,
				s.Count(memstore.OpHead), s.Count(memstore.OpGet), s.Count(memstore.OpList), mode.statOp)
		}
	}
}

func TestLookupListAsksForOneKeyUnderTheName(t *testing.T) {
	s := newStore("d/n/1", "d/n/2", "d/n/3/x")
	var got []objstore.ListInput
	var mu sync.Mutex
	c := &listSpy{Client: s, record: func(in objstore.ListInput) { mu.Lock(); got = append(got, in); mu.Unlock() }}
	if e, err := metadata.Lookup(context.Background(), c, "d/", "n", 0); err != nil || e.Kind != metadata.Dir {
		t.Fatalf("Lookup = %+v, %v", e, err)
	}
	want := objstore.ListInput{Prefix: "d/n/", Delimiter: "/", MaxKeys: 1}
	if len(got) != 1 || got[0] != want {
		t.Errorf("LIST requests %+v, want [%+v]", got, want)
	}
}

type listSpy struct {
	objstore.Client
	record func(objstore.ListInput)
}

func (l *listSpy) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	l.record(in)
	return l.Client.List(ctx, in)
}

func TestLookupErrors(t *testing.T) {
	boom := fmt.Errorf("injected: %w", objstore.ErrAccessDenied)
	for _, tc := range []struct {
		name     string
		failOp   string
		err      error
		wantKind metadata.Kind // 0: want an error
		want     error
	}{
		{"file, HEAD denied", memstore.OpHead, boom, 0, objstore.ErrAccessDenied},
		{"missing, HEAD denied", memstore.OpHead, boom, 0, objstore.ErrAccessDenied},
		{"file, LIST denied", memstore.OpList, boom, 0, objstore.ErrAccessDenied},
		{"missing, LIST denied", memstore.OpList, boom, 0, objstore.ErrAccessDenied},
		{"dir, LIST denied", memstore.OpList, boom, 0, objstore.ErrAccessDenied},
		{"dir, HEAD denied", memstore.OpHead, boom, metadata.Dir, nil}, // the listing decides
		{"file, HEAD unreachable", memstore.OpHead, objstore.ErrUnreachable, 0, objstore.ErrUnreachable},
		{"file, HEAD not found", memstore.OpHead, fmt.Errorf("gone: %w", objstore.ErrNotFound), 0, metadata.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore("file", "dir/x")
			f := objstoretest.NewFaulty(s)
			f.Inject(func(op, key string) error {
				if op == tc.failOp {
					return tc.err
				}
				return nil
			})
			name := strings.Fields(tc.name)[0]
			name = strings.TrimSuffix(name, ",")
			e, err := metadata.Lookup(context.Background(), f, "", name, 0)
			if tc.wantKind != 0 {
				if err != nil || e.Kind != tc.wantKind {
					t.Errorf("Lookup(%q) = %+v, %v; want kind %v", name, e, err, tc.wantKind)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Lookup(%q) = %+v, %v; want an error wrapping %v", name, e, err, tc.want)
			}
			if tc.want != metadata.ErrNotFound && errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("Lookup(%q) = %v: a failure is reported as not found", name, err)
			}
			if !reflect.ValueOf(e).IsZero() {
				t.Errorf("Lookup(%q) returned an entry with its error: %+v", name, e)
			}
		})
	}
}

func TestLookupHonoursCancellation(t *testing.T) {
	s := newStore("file")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e, err := metadata.Lookup(ctx, s, "", "file", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup with a cancelled context = %+v, %v", e, err)
	}
}
