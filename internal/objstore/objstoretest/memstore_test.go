package objstoretest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
)

func TestConformanceMemstore(t *testing.T) {
	shared := memstore.New("shared-bucket")
	objstoretest.Run(t, func(t *testing.T) objstore.Client { return shared })
}

// The suite must also pass through a Faulty with no hook installed.
func TestConformanceFaultyPassThrough(t *testing.T) {
	shared := objstoretest.NewFaulty(memstore.New("shared-bucket"))
	objstoretest.Run(t, func(t *testing.T) objstore.Client { return shared })
}

func TestFaultyInject(t *testing.T) {
	ctx := context.Background()
	store := memstore.New("b")
	store.PutObject("k", []byte("hello world"))
	f := objstoretest.NewFaulty(store)
	boom := errors.New("boom")
	var seen []string
	f.Inject(func(op, key string) error {
		seen = append(seen, op+":"+key)
		if op == "Get" {
			return boom
		}
		return nil
	})
	if _, err := f.Get(ctx, objstore.GetInput{Key: "k", Length: -1}); !errors.Is(err, boom) {
		t.Fatalf("Get with injected fault: %v", err)
	}
	if store.Count("Get") != 0 {
		t.Error("injected Get reached the inner client")
	}
	if _, err := f.Head(ctx, "k"); err != nil {
		t.Fatalf("Head: %v", err)
	}
	if _, err := f.List(ctx, objstore.ListInput{Prefix: "p/"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"Get:k", "Head:k", "List:p/"}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Errorf("hook saw %q, want %q", seen, want)
	}

	f.Clear()
	out, err := f.Get(ctx, objstore.GetInput{Key: "k", Length: -1})
	if err != nil {
		t.Fatalf("Get after Clear: %v", err)
	}
	out.Body.Close()

	// A body that breaks after the first 5 bytes.
	f.InjectRead(func(key string, off int64) error {
		if off >= 5 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	out, err = f.Get(ctx, objstore.GetInput{Key: "k", Offset: 2, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(out.Body, buf); err != nil || !bytes.Equal(buf, []byte("llo")) {
		t.Fatalf("first read = %q, %v", buf, err)
	}
	if _, err := out.Body.Read(buf); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read past the fault offset: %v", err)
	}
	out.Body.Close()
}

func TestFaultyLatency(t *testing.T) {
	f := objstoretest.NewFaulty(memstore.New("b"))
	f.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if _, err := f.Head(context.Background(), "x"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("latency not applied")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Head(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Head with cancelled context during latency: %v", err)
	}
}

// The copy and upload-listing calls reach the hook under their op names,
// with the destination (or the prefix) as key, and an injected error stops
// them before the inner client.
func TestFaultyCopyOps(t *testing.T) {
	ctx := context.Background()
	store := memstore.New("b")
	store.PutObject("src", []byte("0123456789"))
	f := objstoretest.NewFaulty(store)
	boom := errors.New("boom")
	var seen []string
	f.Inject(func(op, key string) error {
		seen = append(seen, op+":"+key)
		return boom
	})
	_, err1 := f.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: "src"})
	_, err2 := f.UploadPartCopy(ctx, objstore.PartCopyInput{Key: "mp", UploadID: "u", Number: 1, SrcKey: "src", Length: 1})
	_, err3 := f.ListMultipartUploads(ctx, "pre/")
	_, err4 := f.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "mp"})
	_, err5 := f.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "mp", UploadID: "u"})
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if !errors.Is(err, boom) {
			t.Errorf("call %d: %v, want the injected error", i, err)
		}
	}
	want := []string{"CopyObject:dst", "UploadPartCopy:mp", "ListMultipartUploads:pre/", "CreateMultipartUpload:mp", "CompleteMultipartUpload:mp"}
	if !slices.Equal(seen, want) {
		t.Errorf("hook saw %q, want %q", seen, want)
	}
	for _, op := range []string{memstore.OpCopyObject, memstore.OpUploadPartCopy, memstore.OpListMultipartUploads,
		memstore.OpCreateMultipartUpload, memstore.OpCompleteMultipartUpload} {
		if n := store.Count(op); n != 0 {
			t.Errorf("injected %s reached the inner client %d times", op, n)
		}
	}
	f.Clear()
	if _, err := f.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: "src"}); err != nil {
		t.Errorf("CopyObject after Clear: %v", err)
	}
	if got, _ := store.Object("dst"); string(got) != "0123456789" {
		t.Errorf("copy through Faulty = %q", got)
	}
}
