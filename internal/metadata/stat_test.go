package metadata_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

func TestLookupFetchesSmallFilesWhole(t *testing.T) {
	const dataMax = 64
	for _, size := range []int{0, 1, 63, 64, 65, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := memstore.New("bucket")
			content := bytes.Repeat([]byte{byte(size)}, size)
			s.PutObject("d/f", content)
			info, err := s.Head(context.Background(), "d/f")
			if err != nil {
				t.Fatal(err)
			}
			e, err := metadata.Lookup(context.Background(), s, "d/", "f", dataMax)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if e.Kind != metadata.File || e.Size != int64(size) || e.ETag != info.ETag || !e.Mtime.Equal(info.LastModified) {
				t.Errorf("Lookup = %+v; want a file of %d bytes, ETag %s", e, size, info.ETag)
			}
			if size <= dataMax && (e.Data == nil || !bytes.Equal(e.Data, content)) {
				t.Errorf("Data = %q; want the whole object %q", e.Data, content)
			}
			if size > dataMax && e.Data != nil {
				t.Errorf("Data = %d bytes of a %d-byte object; want nil (only part of it was fetched)", len(e.Data), size)
			}
			// One GET and one LIST; HEAD only answers what the GET cannot.
			if s.Count(memstore.OpGet) != 1 || s.Count(memstore.OpList) != 1 || s.Count(memstore.OpHead) != 1 /* ours */ {
				t.Errorf("%d GET, %d LIST, %d HEAD; want 1, 1, 0", s.Count(memstore.OpGet), s.Count(memstore.OpList),
					s.Count(memstore.OpHead)-1)
			}
		})
	}
}

func TestStatFallsBackToHead(t *testing.T) {
	denied := fmt.Errorf("injected: %w", objstore.ErrAccessDenied)
	gone := fmt.Errorf("injected: %w", objstore.ErrNotFound)
	for _, tc := range []struct {
		name      string
		getErr    error // injected into GET
		headErr   error // injected into HEAD
		wantHeads int   // that reached the store
		want      error // nil: the object's stat, without data
	}{
		{"GET refused, HEAD answers", denied, nil, 1, nil},
		{"GET refused, HEAD fails too", denied, objstore.ErrUnreachable, 0, objstore.ErrUnreachable}, // the HEAD's error is the answer
		{"GET not found: no HEAD", gone, nil, 0, objstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("bucket")
			s.PutObject("k", []byte("small"))
			f := objstoretest.NewFaulty(s)
			f.Inject(func(op, key string) error {
				switch op {
				case memstore.OpGet:
					return tc.getErr
				case memstore.OpHead:
					return tc.headErr
				}
				return nil
			})
			info, data, err := metadata.Stat(context.Background(), f, "k", 64)
			if s.Count(memstore.OpHead) != tc.wantHeads {
				t.Errorf("%d HEAD after the GET, want %d", s.Count(memstore.OpHead), tc.wantHeads)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Errorf("Stat = %+v, %v; want an error wrapping %v", info, err, tc.want)
				}
				return
			}
			if err != nil || info.Size != 5 || info.ETag == "" || data != nil {
				t.Errorf("Stat = %+v, %q, %v; want the HEAD's stat (5 bytes) and no data", info, data, err)
			}
		})
	}
}

func TestStatDoesNotTrustAWrongResponse(t *testing.T) {
	content := []byte("twelve bytes")
	for _, tc := range []struct {
		name   string
		mangle func(*objstore.GetOutput)
	}{
		{"another range", func(o *objstore.GetOutput) { o.Offset, o.Length = 1, o.Length-1 }},
		{"longer than asked", func(o *objstore.GetOutput) { o.Length = 100 }},
		{"unknown size", func(o *objstore.GetOutput) { o.Info.Size = -1 }},
		{"short body", func(o *objstore.GetOutput) { o.Body = io.NopCloser(io.LimitReader(o.Body, 5)) }},
		{"size disagrees with the range", func(o *objstore.GetOutput) { o.Info.Size = 10 }},
	} {
		// 64: the whole object is asked for; 8: only its head, read through.
		for _, dataMax := range []int64{64, 8} {
			if dataMax < int64(len(content)) && tc.name == "size disagrees with the range" {
				continue // a shorter object still fills the 8 bytes asked for
			}
			t.Run(fmt.Sprintf("%s/%d", tc.name, dataMax), func(t *testing.T) {
				s := memstore.New("bucket")
				s.PutObject("k", content)
				info, data, err := metadata.Stat(context.Background(), &objstoretest.Mangled{Client: s, Mangle: tc.mangle}, "k", dataMax)
				if err != nil || info.Size != int64(len(content)) || data != nil {
					t.Errorf("Stat = %+v, %q, %v; want the HEAD's stat and no data", info, data, err)
				}
				if s.Count(memstore.OpHead) != 1 {
					t.Errorf("%d HEAD; want the wrong response replaced by one HEAD", s.Count(memstore.OpHead))
				}
			})
		}
	}
}

func TestStatFileSendsOneRequestAndNoList(t *testing.T) {
	s := memstore.New("bucket")
	s.PutObject("d/f", []byte("small"))
	s.PutObject("d/dir/x", []byte("x")) // "dir" is a directory, not a file
	e, err := metadata.StatFile(context.Background(), s, "d/", "f", 64)
	if err != nil || e.Kind != metadata.File || e.Name != "f" || e.Size != 5 || string(e.Data) != "small" || e.ETag == "" {
		t.Fatalf("StatFile f = %+v, %v; want the file with its data", e, err)
	}
	for _, name := range []string{"missing", "dir", "..", ""} {
		if _, err := metadata.StatFile(context.Background(), s, "d/", name, 64); !errors.Is(err, metadata.ErrNotFound) {
			t.Errorf("StatFile %q: err = %v, want ErrNotFound", name, err)
		}
	}
	// f, missing and dir: one GET each; nothing for the invalid names.
	if s.Count(memstore.OpGet) != 3 || s.Count(memstore.OpList) != 0 || s.Count(memstore.OpHead) != 0 {
		t.Errorf("%d GET, %d LIST, %d HEAD; want 3, 0, 0", s.Count(memstore.OpGet), s.Count(memstore.OpList), s.Count(memstore.OpHead))
	}
}
