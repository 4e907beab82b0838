package s3

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

func httpErr(status int, inner error) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      inner,
	}
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: "msg"} }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"NoSuchKey", httpErr(404, apiErr("NoSuchKey")), objstore.ErrNotFound},
		{"HEAD 404 without code", httpErr(404, errors.New("not found")), objstore.ErrNotFound},
		{"NoSuchUpload", httpErr(404, apiErr("NoSuchUpload")), objstore.ErrNotFound},
		{"NoSuchBucket", httpErr(404, apiErr("NoSuchBucket")), objstore.ErrNoSuchBucket},
		{"AccessDenied", httpErr(403, apiErr("AccessDenied")), objstore.ErrAccessDenied},
		{"InvalidAccessKeyId", httpErr(403, apiErr("InvalidAccessKeyId")), objstore.ErrAccessDenied},
		{"SignatureDoesNotMatch", httpErr(403, apiErr("SignatureDoesNotMatch")), objstore.ErrAccessDenied},
		{"HEAD 403", httpErr(403, errors.New("forbidden")), objstore.ErrAccessDenied},
		{"PreconditionFailed", httpErr(412, apiErr("PreconditionFailed")), objstore.ErrPreconditionFailed},
		{"HEAD 412", httpErr(412, errors.New("x")), objstore.ErrPreconditionFailed},
		{"SlowDown", httpErr(503, apiErr("SlowDown")), objstore.ErrThrottled},
		{"503", httpErr(503, errors.New("x")), objstore.ErrThrottled},
		{"429", httpErr(429, errors.New("x")), objstore.ErrThrottled},
		{"InvalidRange", httpErr(416, apiErr("InvalidRange")), objstore.ErrInvalidRange},
		{"416", httpErr(416, errors.New("x")), objstore.ErrInvalidRange},
		{"code wins over status", httpErr(404, apiErr("NoSuchBucket")), objstore.ErrNoSuchBucket},
		{"refused key", httpErr(400, apiErr("XMinioInvalidObjectName")), nil},
		{"500", httpErr(500, apiErr("InternalError")), nil},
		{"connection refused", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, objstore.ErrUnreachable},
		{"send error in status-0 response", httpErr(0, &smithyhttp.RequestSendError{Err: errors.New("x")}), objstore.ErrUnreachable},
		{"DNS", fmt.Errorf("op: %w", &net.DNSError{Err: "no such host", Name: "nope.invalid"}), objstore.ErrUnreachable},
		{"TLS", fmt.Errorf("op: %w", x509.UnknownAuthorityError{}), objstore.ErrUnreachable},
		{"timeout", fmt.Errorf("op: %w", context.DeadlineExceeded), objstore.ErrUnreachable},
		{"credentials", fmt.Errorf("get identity: %w", &credentialsError{errors.New("no EC2 IMDS role found")}), objstore.ErrAccessDenied},
		{"canceled", fmt.Errorf("op: %w", context.Canceled), nil},
		{"other", errors.New("something"), nil},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	inner := httpErr(404, apiErr("NoSuchKey"))
	c := &Client{cfg: Config{Bucket: "b"}}
	err := c.wrap("GET", "dir/k", inner)
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Error("wrapped error is not ErrNotFound")
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "NoSuchKey" {
		t.Error("wrapped error hides the SDK error")
	}
	if msg := err.Error(); !strings.Contains(msg, "GET s3://b/dir/k") || !strings.Contains(msg, "NoSuchKey") {
		t.Errorf("message %q lacks the operation or the server's detail", msg)
	}
	if c.wrap("GET", "k", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
	err = c.wrap("GET", "k", context.Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Error("cancellation lost")
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in               string
		start, end, size int64
		ok               bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-5/6", 5, 5, 6, true},
		{"bytes 100-199/*", 100, 199, -1, true},
		{"bytes 0-9/9", 0, 0, 0, false},
		{"bytes 9-0/10", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		s, e, n, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (s != tc.start || e != tc.end || n != tc.size)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, s, e, n, err)
		}
	}
}

func TestStaticCredentialsRedacted(t *testing.T) {
	cfg := Config{Bucket: "b", Credentials: &StaticCredentials{AccessKeyID: "AKID", SecretAccessKey: "s3cr3t", SessionToken: "tok3n"}}
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprint(*cfg.Credentials), fmt.Sprintf("%#v", *cfg.Credentials), fmt.Sprintf("%+v", *cfg.Credentials)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "tok3n") {
			t.Errorf("formatted config reveals a secret: %s", s)
		}
	}
}
