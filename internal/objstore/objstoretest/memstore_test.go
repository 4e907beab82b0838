package objstoretest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
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
