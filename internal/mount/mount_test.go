package mount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// TestRealCheckBucketErrors: the mount step stops at a failed bucket probe
// (before any FUSE mount) with a one-line reason naming the cause, and the
// reason still unwraps to the sentinel.
func TestRealCheckBucketErrors(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	tests := []struct {
		name  string
		args  []string
		check error
		want  string // message, or its start when ending in "..."
	}{
		{"no such bucket", nil, fmt.Errorf("ListObjectsV2 s3://b-1/: %w: NoSuchBucket", objstore.ErrNoSuchBucket),
			`bucket "b-1" does not exist`},
		{"no such bucket at an endpoint", []string{"--endpoint-url", "http://minio:9000"}, objstore.ErrNoSuchBucket,
			`bucket "b-1" does not exist at http://minio:9000`},
		{"access denied", nil, fmt.Errorf("ListObjectsV2: %w: InvalidAccessKeyId", objstore.ErrAccessDenied),
			`access to bucket "b-1" denied: check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile, or the instance/task role) and the bucket policy: ListObjectsV2: access denied: InvalidAccessKeyId`},
		{"access denied with a profile", []string{"--profile", "dev"}, objstore.ErrAccessDenied,
			`access to bucket "b-1" denied: check the credentials (profile "dev" from --profile) ...`},
		{"access denied unsigned", []string{"--no-sign-request"}, objstore.ErrAccessDenied,
			`access to bucket "b-1" denied: check the credentials (requests are unsigned with --no-sign-request, so the bucket must allow anonymous access) ...`},
		{"unreachable endpoint", []string{"--endpoint-url", "http://user:secret@127.0.0.1:1"}, fmt.Errorf("dial tcp 127.0.0.1:1: connection refused: %w", objstore.ErrUnreachable),
			`cannot reach S3 endpoint http://REDACTED@127.0.0.1:1: dial tcp 127.0.0.1:1: connection refused: endpoint unreachable`},
		{"unreachable region", []string{"--region", "eu-west-3"}, objstore.ErrUnreachable,
			`cannot reach S3 endpoint https://s3.eu-west-3.amazonaws.com: endpoint unreachable`},
		{"unreachable default", nil, objstore.ErrUnreachable,
			`cannot reach S3 endpoint https://s3.amazonaws.com: endpoint unreachable`},
		{"probe timeout", nil, fmt.Errorf("ListObjectsV2: %w", context.DeadlineExceeded),
			`cannot reach S3 endpoint https://s3.amazonaws.com: no answer within 20s`},
		{"other", nil, errors.New("InternalError\nretry later"),
			`cannot access bucket "b-1": InternalError retry later`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.args...)
			var probed bool
			newClient := func(_ context.Context, c s3.Config, _ *slog.Logger) (objstore.Client, error) {
				if c != cfg.S3 {
					t.Errorf("client built from %+v, want %+v", c, cfg.S3)
				}
				return fakeClient{check: func(ctx context.Context) error {
					probed = true
					if _, ok := ctx.Deadline(); !ok {
						t.Error("bucket probe without a deadline")
					}
					return tt.check
				}}, nil
			}
			sess, err := Real(newClient)(context.Background(), cfg, discard())
			if err == nil || sess != nil {
				t.Fatalf("Real = %v, %v; want an error", sess, err)
			}
			if !probed {
				t.Fatal("bucket not probed")
			}
			if !errors.Is(err, tt.check) {
				t.Errorf("error %v does not wrap the probe's error", err)
			}
			if head, ok := strings.CutSuffix(tt.want, "..."); ok {
				if !strings.HasPrefix(err.Error(), head) {
					t.Errorf("error = %q, want it to start with %q", err, head)
				}
			} else if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestRealEnvironmentEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "https://k:s@s3.example.com")
	err := describeCheckError(objstore.ErrUnreachable, testConfig(t))
	if want := "cannot reach S3 endpoint https://REDACTED@s3.example.com: endpoint unreachable"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestRealClientSetupFails(t *testing.T) {
	newClient := func(context.Context, s3.Config, *slog.Logger) (objstore.Client, error) {
		return nil, errors.New("s3: bad config")
	}
	_, err := Real(newClient)(context.Background(), testConfig(t), discard())
	if err == nil || err.Error() != "cannot set up the S3 client: s3: bad config" {
		t.Errorf("Real = %v", err)
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine(" a\nb\r\n\tc  d "); got != "a b c d" {
		t.Errorf("OneLine = %q", got)
	}
}
