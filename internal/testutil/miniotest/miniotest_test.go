package miniotest_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/testutil/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }

func TestSharedServer(t *testing.T) {
	s := miniotest.Shared(t)
	if s2 := miniotest.Shared(t); s2 != s {
		t.Error("Shared started a second server")
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") || s.Region != "us-east-1" || s.AccessKey == "" || s.SecretKey == "" {
		t.Errorf("server fields: %+v", s)
	}
	resp, err := http.Get(s.Endpoint + "/minio/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	a, b := s.NewBucket(t), s.NewBucket(t)
	if a == b {
		t.Fatalf("NewBucket returned %q twice", a)
	}
	ctx := context.Background()
	ca, cb := s.Client(t, a), s.Client(t, b)
	if err := ca.CheckBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Head(ctx, "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("buckets are not separate: Head in the other bucket = %v", err)
	}
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_ENDPOINT_URL=" + s.Endpoint, "AWS_REGION=us-east-1"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
}

func TestStartStop(t *testing.T) {
	s := miniotest.Start(t)
	s.Stop()
	s.Stop() // idempotent
	if _, err := http.Get(s.Endpoint + "/minio/health/live"); err == nil {
		t.Error("server still answers after Stop")
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("BUCKETFS_MINIO", "/nonexistent/minio")
	if _, err := miniotest.Binary(); err == nil || !strings.Contains(err.Error(), "/nonexistent/minio") {
		t.Errorf("Binary() with a bad BUCKETFS_MINIO: %v", err)
	}
}
