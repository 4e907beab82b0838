package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
)

// listAll pages through a listing and returns objects and prefixes in order.
func listAll(t *testing.T, s *memstore.Store, in objstore.ListInput) (objects, prefixes []string) {
	t.Helper()
	for {
		out, err := s.List(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Objects {
			objects = append(objects, o.Key)
		}
		prefixes = append(prefixes, out.CommonPrefixes...)
		if out.NextContinuationToken == "" {
			return objects, prefixes
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Keys real servers refuse must still be stored and listed faithfully.
func TestOddKeys(t *testing.T) {
	s := memstore.New("b")
	odd := []string{"a", "a/b", "a/", "a//b", "a/./b", "a/../b", "/lead", "dir-1/x", "dir/x", "dir/"}
	for _, k := range odd {
		s.PutObject(k, []byte(k))
	}
	for _, k := range odd {
		info, err := s.Head(context.Background(), k)
		if err != nil || info.Size != int64(len(k)) {
			t.Errorf("Head(%q) = %+v, %v", k, info, err)
		}
	}
	want := slices.Clone(odd)
	slices.Sort(want)
	if got := s.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
	for _, maxKeys := range []int{0, 1, 2} {
		objs, prefixes := listAll(t, s, objstore.ListInput{Delimiter: "/", MaxKeys: maxKeys})
		if !slices.Equal(objs, []string{"a"}) || !slices.Equal(prefixes, []string{"/", "a/", "dir-1/", "dir/"}) {
			t.Errorf("MaxKeys %d root listing: objects %q prefixes %q", maxKeys, objs, prefixes)
		}
		objs, prefixes = listAll(t, s, objstore.ListInput{Prefix: "a/", Delimiter: "/", MaxKeys: maxKeys})
		if !slices.Equal(objs, []string{"a/", "a/b"}) || !slices.Equal(prefixes, []string{"a/../", "a/./", "a//"}) {
			t.Errorf("MaxKeys %d listing of a/: objects %q prefixes %q", maxKeys, objs, prefixes)
		}
	}
	// "a" as a prefix (not a directory) matches "a" itself and everything below.
	objs, prefixes := listAll(t, s, objstore.ListInput{Prefix: "a", Delimiter: "/", MaxKeys: 1})
	if !slices.Equal(objs, []string{"a"}) || !slices.Equal(prefixes, []string{"a/"}) {
		t.Errorf("listing of prefix a: objects %q prefixes %q", objs, prefixes)
	}
	// A multi-character delimiter.
	objs, prefixes = listAll(t, s, objstore.ListInput{Delimiter: "//"})
	if len(prefixes) != 1 || prefixes[0] != "a//" || len(objs) != len(odd)-1 {
		t.Errorf("delimiter //: objects %q prefixes %q", objs, prefixes)
	}
}

func TestStartAfterInsidePrefix(t *testing.T) {
	s := memstore.New("b")
	for _, k := range []string{"a/1", "a/2", "b"} {
		s.PutObject(k, nil)
	}
	// Keys under a/ remain after the marker, so the prefix is still reported.
	objs, prefixes := listAll(t, s, objstore.ListInput{Delimiter: "/", StartAfter: "a/1"})
	if !slices.Equal(objs, []string{"b"}) || !slices.Equal(prefixes, []string{"a/"}) {
		t.Errorf("objects %q prefixes %q", objs, prefixes)
	}
	objs, prefixes = listAll(t, s, objstore.ListInput{Delimiter: "/", StartAfter: "a/2"})
	if !slices.Equal(objs, []string{"b"}) || len(prefixes) != 0 {
		t.Errorf("objects %q prefixes %q", objs, prefixes)
	}
	if _, err := s.List(context.Background(), objstore.ListInput{ContinuationToken: "!!garbage"}); err == nil {
		t.Error("malformed continuation token accepted")
	}
}

func TestDefaultMaxKeys(t *testing.T) {
	s := memstore.New("b")
	for i := range 1500 {
		s.PutObject(fmt.Sprintf("k%04d", i), nil)
	}
	out, err := s.List(context.Background(), objstore.ListInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) != 1000 || out.NextContinuationToken == "" {
		t.Errorf("default page: %d objects, token %q", len(out.Objects), out.NextContinuationToken)
	}
	out, err = s.List(context.Background(), objstore.ListInput{ContinuationToken: out.NextContinuationToken, MaxKeys: 5000})
	if err != nil || len(out.Objects) != 500 || out.NextContinuationToken != "" || out.Objects[0].Key != "k1000" {
		t.Errorf("second page: %d objects, token %q, %v", len(out.Objects), out.NextContinuationToken, err)
	}
}

func TestETagChangesOnIdenticalRewrite(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	a, _ := s.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("same")})
	b, _ := s.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("same")})
	if a.ETag == b.ETag {
		t.Fatal("rewrite with identical content kept the ETag")
	}
	if _, err := s.Get(ctx, objstore.GetInput{Key: "k", Length: -1, IfMatch: a.ETag}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Errorf("Get pinned to the old ETag: %v", err)
	}
}

func TestZeroLengthGet(t *testing.T) {
	s := memstore.New("b")
	s.PutObject("k", []byte("abc"))
	for _, off := range []int64{0, 3} {
		out, err := s.Get(context.Background(), objstore.GetInput{Key: "k", Offset: off, Length: 0})
		if err != nil {
			t.Fatalf("zero-length Get at %d: %v", off, err)
		}
		if b, _ := io.ReadAll(out.Body); len(b) != 0 || out.Length != 0 || out.Offset != off {
			t.Errorf("zero-length Get at %d: %q offset %d length %d", off, b, out.Offset, out.Length)
		}
	}
}

func TestCountersAndPendingUploads(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b", memstore.WithMinPartSize(0))
	s.PutObject("seed", []byte("x")) // not counted
	_, _ = s.Head(ctx, "seed")
	_, _ = s.Head(ctx, "missing")
	_, _ = s.List(ctx, objstore.ListInput{})
	_ = s.Delete(ctx, "missing")
	id1, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "m1"})
	id2, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "m2"})
	if n := s.PendingUploads(); n != 2 {
		t.Errorf("PendingUploads = %d, want 2", n)
	}
	p1, _ := s.UploadPart(ctx, objstore.PartInput{Key: "m1", UploadID: id1, Number: 1, Body: []byte("small ")})
	p2, _ := s.UploadPart(ctx, objstore.PartInput{Key: "m1", UploadID: id1, Number: 2, Body: []byte("parts")})
	if _, err := s.UploadPart(ctx, objstore.PartInput{Key: "m1", UploadID: id2, Number: 1, Body: nil}); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("UploadPart with another key's upload ID: %v", err)
	}
	if _, ok := s.Object("m1"); ok {
		t.Error("multipart object visible before Complete")
	}
	out, err := s.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "m1", UploadID: id1, Parts: []objstore.Part{p1, p2}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Object("m1"); string(got) != "small parts" {
		t.Errorf("completed object = %q", got)
	}
	if len(out.ETag) < 4 || out.ETag[len(out.ETag)-3:] != `-2"` {
		t.Errorf("multipart ETag %s lacks the -N suffix", out.ETag)
	}
	if err := s.AbortMultipartUpload(ctx, "m2", id2); err != nil {
		t.Fatal(err)
	}
	if n := s.PendingUploads(); n != 0 {
		t.Errorf("PendingUploads = %d, want 0", n)
	}
	want := map[string]int{"Head": 2, "List": 1, "Get": 0, "Put": 0, "Delete": 1, "CreateMultipartUpload": 2,
		"UploadPart": 3, "CompleteMultipartUpload": 1, "AbortMultipartUpload": 1}
	for op, n := range want {
		if got := s.Count(op); got != n {
			t.Errorf("Count(%q) = %d, want %d", op, got, n)
		}
	}
	s.ResetCounts()
	if s.Count("Head") != 0 {
		t.Error("ResetCounts did not reset")
	}
}

func TestMultipartValidation(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	id, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k"})
	p1, _ := s.UploadPart(ctx, objstore.PartInput{Key: "k", UploadID: id, Number: 1, Body: []byte("too small")})
	p2, _ := s.UploadPart(ctx, objstore.PartInput{Key: "k", UploadID: id, Number: 2, Body: []byte("last")})
	cases := map[string][]objstore.Part{
		"no parts":       nil,
		"too small":      {p1, p2},
		"wrong order":    {p2, p1},
		"wrong etag":     {{Number: 1, ETag: `"nope"`}},
		"unknown number": {{Number: 3, ETag: p1.ETag}},
	}
	for name, parts := range cases {
		if _, err := s.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: id, Parts: parts}); err == nil {
			t.Errorf("%s: Complete succeeded", name)
		}
	}
	if _, err := s.UploadPart(ctx, objstore.PartInput{Key: "k", UploadID: id, Number: 0, Body: nil}); err == nil {
		t.Error("part number 0 accepted")
	}
	// A single small part is fine: only non-final parts have a minimum size.
	if _, err := s.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: id, Parts: []objstore.Part{p1}}); err != nil {
		t.Errorf("single small part: %v", err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: "nope", Parts: []objstore.Part{p1}}); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Complete of unknown upload: %v", err)
	}
}

func TestMissingBucket(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b", memstore.WithMissingBucket())
	if err := s.CheckBucket(ctx); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("CheckBucket: %v", err)
	}
	if _, err := s.Head(ctx, "k"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("Head: %v", err)
	}
	s.SetMissingBucket(false)
	if err := s.CheckBucket(ctx); err != nil {
		t.Errorf("CheckBucket after SetMissingBucket(false): %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := memstore.New("b")
	if _, err := s.Put(ctx, objstore.PutInput{Key: "k"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled context: %v", err)
	}
	if len(s.Keys()) != 0 {
		t.Error("cancelled Put stored an object")
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("w%d/k%d", w%4, i%10)
				_, _ = s.Put(ctx, objstore.PutInput{Key: key, Body: []byte(key)})
				if out, err := s.Get(ctx, objstore.GetInput{Key: key, Length: -1}); err == nil {
					_, _ = io.ReadAll(out.Body)
				}
				_, _ = s.List(ctx, objstore.ListInput{Prefix: fmt.Sprintf("w%d/", w%4), MaxKeys: 3})
				if i%7 == 0 {
					_ = s.Delete(ctx, key)
				}
			}
		})
	}
	wg.Wait()
	if s.Count("Put") != 1600 {
		t.Errorf("Count(Put) = %d", s.Count("Put"))
	}
}

// Like S3, the store refuses a body whose CRC32C is not the one sent with it.
func TestGivenCRC32CIsChecked(t *testing.T) {
	s := memstore.New("b")
	ctx := context.Background()
	body := []byte("body")
	right := objstore.CRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	if _, err := s.Put(ctx, objstore.PutInput{Key: "wrong", Body: body, ChecksumCRC32C: objstore.CRC32C(1)}); err == nil || !strings.Contains(err.Error(), "BadDigest") {
		t.Errorf("Put with a wrong CRC32C: %v, want BadDigest", err)
	}
	if _, ok := s.Object("wrong"); ok {
		t.Errorf("Put with a wrong CRC32C stored the object")
	}
	if _, err := s.Put(ctx, objstore.PutInput{Key: "right", Body: body, ChecksumCRC32C: right}); err != nil {
		t.Errorf("Put with the body's CRC32C: %v", err)
	}
	id, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "m"})
	if _, err := s.UploadPart(ctx, objstore.PartInput{Key: "m", UploadID: id, Number: 1, Body: body, ChecksumCRC32C: objstore.CRC32C(1)}); err == nil {
		t.Errorf("UploadPart with a wrong CRC32C succeeded")
	}
	if p, err := s.UploadPart(ctx, objstore.PartInput{Key: "m", UploadID: id, Number: 1, Body: body, ChecksumCRC32C: right}); err != nil || p.ChecksumCRC32C != right {
		t.Errorf("UploadPart with the body's CRC32C: %+v, %v", p, err)
	}
}
