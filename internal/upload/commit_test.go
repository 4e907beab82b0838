package upload

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// memSource serves a commit's bytes from memory.
type memSource []byte

func (m memSource) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return copy(p, m[off:]), nil
}

func commitEnv(t *testing.T) (*memstore.Store, *objstoretest.Faulty) {
	t.Helper()
	s := memstore.New("b", memstore.WithMinPartSize(1<<20))
	return s, objstoretest.NewFaulty(s)
}

func TestCommitCopiesCleanRangesAndSendsTheRest(t *testing.T) {
	s, c := commitEnv(t)
	base := bytes.Repeat([]byte("abcdefgh"), 1<<20) // 8 MiB
	s.PutObject("k", base)
	info, _ := s.Head(context.Background(), "k")
	edited := append(bytes.Clone(base), []byte("tail")...)
	copy(edited[3<<20:], "XYZ")
	out, err := Commit(context.Background(), c, CommitInput{Key: "k", Size: int64(len(edited)),
		BaseKey: "k", BaseETag: info.ETag, BaseSize: info.Size, Data: memSource(edited),
		Clean:   []stage.Range{{Off: 0, End: 3 << 20}, {Off: 3<<20 + 3, End: 8 << 20}},
		IfMatch: info.ETag, PartSize: 2 << 20, MinPart: 1 << 20, Metadata: map[string]string{"mode": "33188"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Object("k")
	if !bytes.Equal(got, edited) {
		t.Fatal("committed object differs")
	}
	if md, _ := s.Metadata("k"); md["mode"] != "33188" {
		t.Fatalf("metadata %v", md)
	}
	if s.Count(memstore.OpUploadPartCopy) != 2 || out.ETag == info.ETag {
		t.Fatalf("%d part copies, etag %s", s.Count(memstore.OpUploadPartCopy), out.ETag)
	}
}

func TestCommitConditionsAreConflicts(t *testing.T) {
	s, c := commitEnv(t)
	s.PutObject("k", []byte("v1"))
	in := CommitInput{Key: "k", Size: 2, Data: memSource("v2"), IfMatch: `"not-the-etag"`, PartSize: 1 << 20}
	if _, err := Commit(context.Background(), c, in); !errors.Is(err, ErrConflict) {
		t.Fatalf("If-Match of another version: %v", err)
	}
	in.IfMatch, in.IfNoneMatch = "", true
	if _, err := Commit(context.Background(), c, in); !errors.Is(err, ErrConflict) {
		t.Fatalf("If-None-Match on an existing key: %v", err)
	}
	// A base replaced under a multipart copy: the copy fails, nothing is
	// written and no upload is left.
	big := bytes.Repeat([]byte("x"), 4<<20)
	s.PutObject("big", big)
	info, _ := s.Head(context.Background(), "big")
	s.PutObject("big", []byte("replaced"))
	_, err := Commit(context.Background(), c, CommitInput{Key: "big", Size: int64(len(big)) + 1,
		BaseKey: "big", BaseETag: info.ETag, BaseSize: info.Size, Clean: []stage.Range{{Off: 0, End: 4 << 20}},
		Data: memSource(append(big, 'y')), IfMatch: info.ETag, PartSize: 1 << 20, MinPart: 1 << 20})
	if !errors.Is(err, ErrConflict) || s.PendingUploads() != 0 {
		t.Fatalf("copy from a replaced base: %v, %d uploads left", err, s.PendingUploads())
	}
	if got, _ := s.Object("big"); string(got) != "replaced" {
		t.Fatalf("object %q", got)
	}
}

func TestCommitFailureAbortsAndIsNoConflict(t *testing.T) {
	s, c := commitEnv(t)
	c.Inject(func(op, key string) error {
		if op == memstore.OpUploadPart {
			return errors.New("injected")
		}
		return nil
	})
	data := bytes.Repeat([]byte("z"), 5<<20)
	_, err := Commit(context.Background(), c, CommitInput{Key: "n", Size: int64(len(data)), Data: memSource(data),
		IfNoneMatch: true, PartSize: 1 << 20, MinPart: 1 << 20})
	if err == nil || errors.Is(err, ErrConflict) || s.PendingUploads() != 0 {
		t.Fatalf("failed part: %v, %d uploads left", err, s.PendingUploads())
	}
	if _, ok := s.Object("n"); ok {
		t.Fatal("a partial object appeared")
	}
}
