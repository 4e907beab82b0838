package memstore_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
)

// The store keeps its own copy of metadata: neither the map a caller wrote
// nor the ones it was given back can change it.
func TestMetadataIsCopied(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	meta := map[string]string{"Mode": "0644"}
	if _, err := s.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("x"), Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	meta["mode"] = "changed by the writer"
	info, err := s.Head(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	info.Metadata["mode"] = "changed by a reader"
	got, ok := s.Metadata("k")
	if !ok || !maps.Equal(got, map[string]string{"mode": "0644"}) {
		t.Errorf("Metadata = %v, %v; want mode 0644 under a lower-case name", got, ok)
	}
	got["mode"] = "changed through the helper"
	if again, _ := s.Metadata("k"); again["mode"] != "0644" {
		t.Errorf("Metadata returned the store's own map")
	}
	if _, ok := s.Metadata("missing"); ok {
		t.Error("Metadata of a missing key reports it")
	}
	s.PutObject("seeded", []byte("y"))
	if m, ok := s.Metadata("seeded"); !ok || m != nil {
		t.Errorf("Metadata of a seeded object = %v, %v; want none", m, ok)
	}
}

// Like MinIO with CRC32C checksums on (its default and ours), a part copy
// needs an upload created for copies.
func TestUploadPartCopyNeedsCopyParts(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	s.PutObject("src", []byte("source bytes"))
	id, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k"})
	_, err := s.UploadPartCopy(ctx, objstore.PartCopyInput{Key: "k", UploadID: id, Number: 1, SrcKey: "src", Length: 3})
	if err == nil || errors.Is(err, objstore.ErrNotFound) || errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("UploadPartCopy into an upload without CopyParts: %v, want a refusal without sentinel", err)
	}
	id, _ = s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k", CopyParts: true})
	p, err := s.UploadPartCopy(ctx, objstore.PartCopyInput{Key: "k", UploadID: id, Number: 1, SrcKey: "src", Offset: 7, Length: 5})
	if err != nil || p.ChecksumCRC32C != "" || p.Size != 5 {
		t.Fatalf("UploadPartCopy = %+v, %v; want 5 bytes without checksum", p, err)
	}
	// The part is a snapshot: rewriting the source does not change it.
	s.PutObject("src", []byte("other bytes!"))
	if _, err := s.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: id, Parts: []objstore.Part{p}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Object("k"); string(got) != "bytes" {
		t.Errorf("object = %q, want the bytes copied", got)
	}
}

// Memstore lists uploads by key prefix, as S3 does (MinIO matches a
// non-empty prefix as a whole key only).
func TestListMultipartUploadsByPrefix(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	for _, k := range []string{"dir/b", "dir/a", "dir/a", "dirt", "other"} {
		if _, err := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	ups, err := s.ListMultipartUploads(ctx, "dir/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range ups {
		keys = append(keys, u.Key)
	}
	if want := []string{"dir/a", "dir/a", "dir/b"}; !slices.Equal(keys, want) {
		t.Errorf("ListMultipartUploads(dir/) keys %q, want %q", keys, want)
	}
	if ups[0].UploadID == ups[1].UploadID || ups[0].Initiated.After(ups[1].Initiated) {
		t.Errorf("two uploads of one key: %+v", ups[:2])
	}
	if all, _ := s.ListMultipartUploads(ctx, ""); len(all) != 5 {
		t.Errorf("ListMultipartUploads of the bucket: %d uploads, want 5", len(all))
	}
}

func TestCopyCounters(t *testing.T) {
	ctx := context.Background()
	s := memstore.New("b")
	s.PutObject("src", []byte("0123456789"))
	id, _ := s.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k", CopyParts: true})
	_, _ = s.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: "src"})
	_, _ = s.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: "missing"})
	_, _ = s.UploadPartCopy(ctx, objstore.PartCopyInput{Key: "k", UploadID: id, Number: 1, SrcKey: "src", Length: 4})
	_, _ = s.ListMultipartUploads(ctx, "")
	want := map[string]int{memstore.OpCopyObject: 2, memstore.OpUploadPartCopy: 1, memstore.OpListMultipartUploads: 1,
		memstore.OpCreateMultipartUpload: 1, memstore.OpGet: 0, memstore.OpHead: 0}
	for op, n := range want {
		if got := s.Count(op); got != n {
			t.Errorf("Count(%q) = %d, want %d", op, got, n)
		}
	}
	s.SetMissingBucket(true)
	if _, err := s.CopyObject(ctx, objstore.CopyInput{Key: "dst2", SrcKey: "src"}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("CopyObject in a missing bucket: %v", err)
	}
	if _, err := s.ListMultipartUploads(ctx, ""); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("ListMultipartUploads in a missing bucket: %v", err)
	}
}
