package s3_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/objstoretest"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
	"github.com/bucketfs/bucketfs/internal/testutil/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }

func newClient(t *testing.T, cfg s3.Config) *s3.Client {
	t.Helper()
	c, err := s3.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return c
}

func TestConformanceMinIO(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	objstoretest.Run(t, func(t *testing.T) objstore.Client { return srv.Client(t, bucket) })
}

// The same suite without upload checksums (--upload-checksums off), which
// changes how PUT, UploadPart and Complete are signed and sent.
func TestConformanceMinIONoChecksums(t *testing.T) {
	srv := miniotest.Shared(t)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.UploadChecksums = "off"
	objstoretest.Run(t, func(t *testing.T) objstore.Client { return newClient(t, cfg) })
}

func TestMissingBucket(t *testing.T) {
	srv := miniotest.Shared(t)
	c := newClient(t, srv.Config("bucketfs-no-such-bucket"))
	err := c.CheckBucket(context.Background())
	if !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("CheckBucket of a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if _, err := c.List(context.Background(), objstore.ListInput{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("List of a missing bucket: %v", err)
	}
}

func TestWrongSecretKey(t *testing.T) {
	srv := miniotest.Shared(t)
	cfg := srv.Config(srv.NewBucket(t))
	const wrong = "definitely-not-the-secret"
	cfg.Credentials.SecretAccessKey = wrong
	c := newClient(t, cfg)
	ctx := context.Background()
	err := c.CheckBucket(ctx)
	if !errors.Is(err, objstore.ErrAccessDenied) {
		t.Fatalf("CheckBucket with a wrong secret: %v, want ErrAccessDenied", err)
	}
	// HEAD responses carry no error code; the 403 alone must be enough.
	_, herr := c.Head(ctx, "some-key")
	if !errors.Is(herr, objstore.ErrAccessDenied) {
		t.Errorf("Head with a wrong secret: %v, want ErrAccessDenied", herr)
	}
	for _, e := range []error{err, herr} {
		if msg := e.Error(); strings.Contains(msg, wrong) || strings.Contains(msg, srv.SecretKey) {
			t.Errorf("error message reveals a secret key: %s", msg)
		}
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	c := newClient(t, s3.Config{
		Bucket:         "bucket",
		Region:         "us-east-1",
		EndpointURL:    "http://127.0.0.1:1",
		ForcePathStyle: true,
		Credentials:    &s3.StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"},
	})
	start := time.Now()
	err := c.CheckBucket(context.Background())
	if !errors.Is(err, objstore.ErrUnreachable) {
		t.Fatalf("CheckBucket of 127.0.0.1:1: %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("CheckBucket took %v to fail", d)
	}
	if _, err := c.Head(context.Background(), "k"); !errors.Is(err, objstore.ErrUnreachable) {
		t.Errorf("Head on 127.0.0.1:1: %v, want ErrUnreachable", err)
	}
}

func TestCABundle(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-ca.pem")
	_, err := s3.New(context.Background(), s3.Config{Bucket: "b", CABundle: missing}, nil)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("New with a missing CA bundle: %v, want an error naming %s", err, missing)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s3.New(context.Background(), s3.Config{Bucket: "b", CABundle: garbage}, nil)
	if err == nil || !strings.Contains(err.Error(), garbage) {
		t.Errorf("New with a CA bundle without certificates: %v, want an error naming %s", err, garbage)
	}
}

func TestAnonymousOnPrivateBucket(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	if _, err := srv.Client(t, bucket).Put(context.Background(), objstore.PutInput{Key: "private", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(bucket)
	cfg.NoSignRequest = true
	c := newClient(t, cfg)
	if err := c.CheckBucket(context.Background()); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("anonymous CheckBucket of a private bucket: %v, want ErrAccessDenied", err)
	}
	if _, err := c.Get(context.Background(), objstore.GetInput{Key: "private", Length: -1}); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("anonymous Get of a private object: %v, want ErrAccessDenied", err)
	}
}

func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]s3.Config{
		"no bucket":       {},
		"bad checksums":   {Bucket: "b", UploadChecksums: "md5"},
		"bad endpoint":    {Bucket: "b", EndpointURL: "127.0.0.1:9000"},
		"ftp endpoint":    {Bucket: "b", EndpointURL: "ftp://host"},
		"unknown profile": {Bucket: "b", Profile: "bucketfs-no-such-profile"},
	} {
		if _, err := s3.New(context.Background(), cfg, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// With a debug logger (--debug) every request is logged once its response
// arrives; without one nothing is.
func TestDebugLogsEachRequest(t *testing.T) {
	srv := miniotest.Shared(t)
	cfg := srv.Config(srv.NewBucket(t))
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf syncBuffer
		c, err := s3.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level})))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(context.Background(), objstore.PutInput{Key: "logged", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Head(context.Background(), "missing")
		logged := strings.Count(buf.String(), `msg="s3 request"`)
		if level == slog.LevelInfo {
			if logged != 0 {
				t.Errorf("info level: %d request lines logged, want none", logged)
			}
			continue
		}
		for _, want := range []string{`op=PutObject`, `method=PUT`, `path=/` + cfg.Bucket + `/logged`, `status=200`,
			`op=HeadObject`, `status=404`} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("debug log lacks %q:\n%s", want, buf.String())
			}
		}
		if logged != 2 {
			t.Errorf("%d request lines for 2 requests:\n%s", logged, buf.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
