package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// fakeS3 is a scripted HTTP server that records requests, to check how the
// client shapes them (headers, ranges) and how it reads odd responses that
// MinIO does not produce.
type fakeS3 struct {
	mu   sync.Mutex
	reqs []*http.Request
	body map[*http.Request]string
}

const lastModified = "Mon, 01 Jan 2024 00:00:00 GMT"

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.body[r] = string(b)
	f.mu.Unlock()
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/bucket/")
	w.Header().Set("Last-Modified", lastModified)
	switch {
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		enc := "<EncodingType>url</EncodingType>"
		if q.Get("prefix") == "raw/" {
			enc = "" // a server ignoring encoding-type returns keys verbatim
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult><Name>bucket</Name><IsTruncated>false</IsTruncated>%s
<Contents><Key>%sa%%20b%%2Bc</Key><Size>3</Size><ETag>"e"</ETag><LastModified>2024-01-01T00:00:00.000Z</LastModified></Contents>
<CommonPrefixes><Prefix>%sd%%C3%%A9/</Prefix></CommonPrefixes></ListBucketResult>`, enc, q.Get("prefix"), q.Get("prefix"))
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><ETag>"mp-2"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		w.Header().Set("ETag", `"put"`)
		if q.Has("partNumber") {
			w.Header().Set("x-amz-checksum-crc32c", "AAAAAA==")
		}
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		// Some servers answer 404 to deleting a missing key; S3 says 204.
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
	case key == "slow":
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	case key == "empty":
		w.Header().Set("ETag", `"empty"`)
		if r.Header.Get("Range") != "" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			if r.Method == http.MethodGet {
				fmt.Fprint(w, `<Error><Code>InvalidRange</Code><Message>range</Message></Error>`)
			}
			return
		}
		w.Header().Set("Content-Length", "0")
	case key == "ignores-range":
		w.Header().Set("ETag", `"whole"`)
		w.Header().Set("Content-Length", "10")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, "0123456789")
		}
	default:
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Content-Range", "bytes 2-4/10")
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusPartialContent)
		if r.Method == http.MethodGet {
			fmt.Fprint(w, "234")
		}
	}
}

func (f *fakeS3) take() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

func startFake(t *testing.T, mutate func(*s3.Config)) (*s3.Client, *fakeS3) {
	f := &fakeS3{body: map[*http.Request]string{}}
	return startServer(t, f, mutate), f
}

// startServer serves h and returns a client of it with every option that
// shapes requests set.
func startServer(t *testing.T, h http.Handler, mutate func(*s3.Config)) *s3.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := s3.Config{
		Bucket:              "bucket",
		Region:              "eu-west-1",
		EndpointURL:         srv.URL,
		ForcePathStyle:      true,
		RequesterPays:       true,
		ExpectedBucketOwner: "123456789012",
		StorageClass:        "STANDARD_IA",
		SSE:                 "aws:kms",
		SSEKMSKeyID:         "my-key",
		UserAgentPrefix:     "bucketfs-test/1.2",
		MaxAttempts:         2,
		MaxConnections:      4,
		Credentials:         &s3.StaticCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return newClient(t, cfg)
}

func TestRequestHeaders(t *testing.T) {
	c, f := startFake(t, nil)
	ctx := context.Background()
	if _, err := c.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("data"), IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Head(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k"})
	if err != nil || id != "up1" {
		t.Fatalf("CreateMultipartUpload = %q, %v", id, err)
	}
	p, err := c.UploadPart(ctx, objstore.PartInput{Key: "k", UploadID: id, Number: 1, Body: []byte("part")})
	if err != nil || p.ChecksumCRC32C != "AAAAAA==" || p.ETag != `"put"` || p.Size != 4 {
		t.Fatalf("UploadPart = %+v, %v", p, err)
	}
	if out, err := c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: id, Parts: []objstore.Part{p}}); err != nil || out.ETag != `"mp-2"` {
		t.Fatalf("CompleteMultipartUpload = %+v, %v", out, err)
	}
	if err := c.AbortMultipartUpload(ctx, "k", id); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete answered 404: %v, want nil", err)
	}
	reqs := f.take()
	if len(reqs) != 7 {
		t.Fatalf("%d requests, want 7", len(reqs))
	}
	for _, r := range reqs {
		what := r.Method + " " + r.URL.String()
		for h, want := range map[string]string{
			"X-Amz-Request-Payer":         "requester",
			"X-Amz-Expected-Bucket-Owner": "123456789012",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", what, h, got, want)
			}
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "bucketfs-test/1.2 aws-sdk-go-v2/") {
			t.Errorf("%s: User-Agent %q lacks the prefix", what, ua)
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/s3/") {
			t.Errorf("%s: Authorization %q not signed with the configured key and region", what, auth)
		}
	}
	put, create, part, complete := reqs[0], reqs[2], reqs[3], reqs[4]
	for _, r := range []*http.Request{put, create} {
		for h, want := range map[string]string{
			"X-Amz-Storage-Class":                         "STANDARD_IA",
			"X-Amz-Server-Side-Encryption":                "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "my-key",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.Method, r.URL, h, got, want)
			}
		}
	}
	if got := put.Header.Get("If-None-Match"); got != "*" {
		t.Errorf("PUT If-None-Match = %q", got)
	}
	if got := create.Header.Get("X-Amz-Checksum-Algorithm"); got != "CRC32C" {
		t.Errorf("CreateMultipartUpload checksum algorithm = %q", got)
	}
	for _, r := range []*http.Request{put, part} {
		if !hasCRC32C(r) {
			t.Errorf("%s %s carries no CRC32C checksum: %v", r.Method, r.URL, r.Header)
		}
		// The signed CRC32C protects the body; it is not hashed again for the signature.
		if got := r.Header.Get("X-Amz-Content-Sha256"); got != "UNSIGNED-PAYLOAD" {
			t.Errorf("%s %s: X-Amz-Content-Sha256 = %q, want UNSIGNED-PAYLOAD", r.Method, r.URL, got)
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "x-amz-checksum-crc32c") {
			t.Errorf("%s %s: the checksum header is not signed: %q", r.Method, r.URL, auth)
		}
	}
	if body := f.body[complete]; !strings.Contains(body, "<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C>") {
		t.Errorf("Complete body lacks the part checksum: %s", body)
	}
}

func hasCRC32C(r *http.Request) bool {
	return r.Header.Get("X-Amz-Checksum-Crc32c") != "" || strings.Contains(strings.ToLower(r.Header.Get("X-Amz-Trailer")), "crc32c")
}

func TestChecksumsOff(t *testing.T) {
	c, f := startFake(t, func(cfg *s3.Config) { cfg.UploadChecksums = "off" })
	ctx := context.Background()
	if _, err := c.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.take() {
		for h := range r.Header {
			if strings.HasPrefix(strings.ToLower(h), "x-amz-checksum") || strings.EqualFold(h, "X-Amz-Trailer") {
				t.Errorf("%s %s has %s with checksums off", r.Method, r.URL, h)
			}
		}
		// Without a checksum the payload must be signed.
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
			t.Errorf("%s %s: unsigned payload with checksums off", r.Method, r.URL)
		}
	}
}

func TestGetRanges(t *testing.T) {
	c, f := startFake(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		in    objstore.GetInput
		rng   string
		match string
	}{
		{objstore.GetInput{Key: "k", Length: -1}, "", ""},
		{objstore.GetInput{Key: "k", Offset: 5, Length: -1}, "bytes=5-", ""},
		{objstore.GetInput{Key: "k", Offset: 2, Length: 3, IfMatch: `"e"`}, "bytes=2-4", `"e"`},
	} {
		out, err := c.Get(ctx, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		r := f.take()[0]
		if r.Header.Get("Range") != tc.rng || r.Header.Get("If-Match") != tc.match {
			t.Errorf("Get(%+v): Range %q If-Match %q, want %q %q", tc.in, r.Header.Get("Range"), r.Header.Get("If-Match"), tc.rng, tc.match)
		}
	}
	// Content-Range fills Offset, Length and Size.
	out, err := c.Get(ctx, objstore.GetInput{Key: "k", Offset: 2, Length: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	if string(b) != "234" || out.Offset != 2 || out.Length != 3 || out.Info.Size != 10 || out.Info.ETag != `"e"` {
		t.Errorf("Get = %q offset %d length %d info %+v", b, out.Offset, out.Length, out.Info)
	}
}

func TestGetServerIgnoresRange(t *testing.T) {
	c, _ := startFake(t, nil)
	out, err := c.Get(context.Background(), objstore.GetInput{Key: "ignores-range", Offset: 3, Length: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "3456" || out.Offset != 3 || out.Length != 4 || out.Info.Size != 10 {
		t.Errorf("Get = %q offset %d length %d size %d", b, out.Offset, out.Length, out.Info.Size)
	}
	if _, err := c.Get(context.Background(), objstore.GetInput{Key: "ignores-range", Offset: 10, Length: -1}); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("Get past the end: %v", err)
	}
}

func TestGetEmptyObjectAfter416(t *testing.T) {
	c, f := startFake(t, nil)
	out, err := c.Get(context.Background(), objstore.GetInput{Key: "empty", Length: 100})
	if err != nil {
		t.Fatalf("Get of an empty object with a range: %v", err)
	}
	if b, _ := io.ReadAll(out.Body); len(b) != 0 || out.Length != 0 || out.Info.Size != 0 || out.Info.ETag != `"empty"` {
		t.Errorf("Get = %q length %d info %+v", b, out.Length, out.Info)
	}
	if reqs := f.take(); len(reqs) != 2 || reqs[1].Method != http.MethodHead {
		t.Errorf("want a ranged GET then a HEAD, got %d requests", len(reqs))
	}
}

func TestListDecodesKeys(t *testing.T) {
	c, f := startFake(t, nil)
	out, err := c.List(context.Background(), objstore.ListInput{Prefix: "p/", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) != 1 || out.Objects[0].Key != "p/a b+c" || len(out.CommonPrefixes) != 1 || out.CommonPrefixes[0] != "p/dé/" {
		t.Errorf("List = %+v", out)
	}
	if q := f.take()[0].URL.Query(); q.Get("encoding-type") != "url" || q.Get("delimiter") != "/" {
		t.Errorf("List query %v", q)
	}
	out, err = c.List(context.Background(), objstore.ListInput{Prefix: "raw/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) != 1 || out.Objects[0].Key != "raw/a%20b%2Bc" {
		t.Errorf("List without EncodingType in the answer = %+v, want keys verbatim", out)
	}
}

func TestThrottled(t *testing.T) {
	c, f := startFake(t, nil)
	if _, err := c.Head(context.Background(), "slow"); !errors.Is(err, objstore.ErrThrottled) {
		t.Errorf("Head answered 503: %v, want ErrThrottled", err)
	}
	if n := len(f.take()); n != 2 {
		t.Errorf("%d attempts, want MaxAttempts = 2", n)
	}
}

// With no credentials anywhere, requests fail with ErrAccessDenied (not, say,
// ErrUnreachable from the IMDS probe at the end of the chain).
func TestNoCredentials(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	c, f := startFake(t, func(cfg *s3.Config) { cfg.Credentials = nil })
	if _, err := c.Head(context.Background(), "k"); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("Head without credentials: %v, want ErrAccessDenied", err)
	}
	if n := len(f.take()); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}
