package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// copyFake answers copies, multipart calls and upload listings, and records
// each request with its body.
type copyFake struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (f *copyFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.body = append(f.body, string(b))
	f.mu.Unlock()
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && q.Has("partNumber"):
		fmt.Fprint(w, `<CopyPartResult><ETag>"pc"</ETag><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></CopyPartResult>`)
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		fmt.Fprint(w, `<CopyObjectResult><ETag>"copy"</ETag></CopyObjectResult>`)
	case r.Method == http.MethodPut:
		w.Header().Set("ETag", `"put"`)
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		fmt.Fprint(w, `<CompleteMultipartUploadResult><ETag>"mp-2"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodGet && q.Has("uploads"):
		f.listUploads(w, q.Get("prefix"), q.Get("key-marker"), q.Get("upload-id-marker"), q.Get("encoding-type"))
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// listUploads serves two pages, keys URL-encoded and the first page's
// uploads after the second's in key order; prefix "loop/" serves a
// truncated page without markers.
func (f *copyFake) listUploads(w http.ResponseWriter, prefix, keyMarker, idMarker, enc string) {
	upload := func(key, id string) string {
		return fmt.Sprintf(`<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>2024-01-01T00:00:00.000Z</Initiated></Upload>`, key, id)
	}
	if enc != "url" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	switch {
	case prefix == "loop/":
		fmt.Fprint(w, `<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>`+
			upload("loop/k", "u0")+`</ListMultipartUploadsResult>`)
	case keyMarker == "":
		fmt.Fprint(w, `<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>`+
			`<NextKeyMarker>k%20b</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>`+
			upload("z%2Bz", "u1")+upload("k%20b", "u2")+`</ListMultipartUploadsResult>`)
	case keyMarker == "k b" && idMarker == "u2": // the marker goes back decoded
		fmt.Fprint(w, `<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>`+
			upload("a%C3%A9", "u3")+`</ListMultipartUploadsResult>`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<Error><Code>InvalidArgument</Code><Message>markers %q %q</Message></Error>`, keyMarker, idMarker)
	}
}

func (f *copyFake) take() ([]*http.Request, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, b := f.reqs, f.body
	f.reqs, f.body = nil, nil
	return r, b
}

func wantHeaders(t *testing.T, r *http.Request, want map[string]string) {
	t.Helper()
	for h, v := range want {
		if got := r.Header.Get(h); got != v {
			t.Errorf("%s %s: %s = %q, want %q", r.Method, r.URL, h, got, v)
		}
	}
}

func TestCopyObjectRequest(t *testing.T) {
	f := &copyFake{}
	c := startServer(t, f, nil)
	ctx := context.Background()
	src := "dir/src +%é&?#.txt"
	out, err := c.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: src, SrcIfMatch: `"e1"`})
	if err != nil || out.ETag != `"copy"` {
		t.Fatalf("CopyObject = %+v, %v", out, err)
	}
	if _, err := c.CopyObject(ctx, objstore.CopyInput{Key: "dst", SrcKey: "s", ReplaceMetadata: true,
		Metadata: map[string]string{"mode": "0600"}}); err != nil {
		t.Fatal(err)
	}
	reqs, _ := f.take()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	common := map[string]string{
		"X-Amz-Storage-Class":                         "STANDARD_IA",
		"X-Amz-Server-Side-Encryption":                "aws:kms",
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "my-key",
		"X-Amz-Checksum-Algorithm":                    "CRC32C",
		"X-Amz-Request-Payer":                         "requester",
		"X-Amz-Expected-Bucket-Owner":                 "123456789012",
		"X-Amz-Source-Expected-Bucket-Owner":          "123456789012",
		"If-Match":                                    "", // no condition on the destination
		"If-None-Match":                               "",
	}
	wantHeaders(t, reqs[0], common)
	wantHeaders(t, reqs[0], map[string]string{
		// Every byte but unreserved ones and '/' escaped: '+' and '%' too.
		"X-Amz-Copy-Source":          "bucket/dir/src%20%2B%25%C3%A9%26%3F%23.txt",
		"X-Amz-Copy-Source-If-Match": `"e1"`,
		"X-Amz-Metadata-Directive":   "COPY",
		"X-Amz-Meta-Mode":            "",
	})
	wantHeaders(t, reqs[1], common)
	wantHeaders(t, reqs[1], map[string]string{
		"X-Amz-Copy-Source":          "bucket/s",
		"X-Amz-Copy-Source-If-Match": "",
		"X-Amz-Metadata-Directive":   "REPLACE",
		"X-Amz-Meta-Mode":            "0600",
	})
}

func TestUploadPartCopyRequest(t *testing.T) {
	f := &copyFake{}
	c := startServer(t, f, nil)
	ctx := context.Background()
	p, err := c.UploadPartCopy(ctx, objstore.PartCopyInput{Key: "k", UploadID: "up1", Number: 3, SrcKey: "a b", SrcIfMatch: `"e1"`,
		Offset: 5, Length: 10})
	if err != nil || p != (objstore.Part{Number: 3, ETag: `"pc"`, ChecksumCRC32C: "AAAAAA==", Size: 10}) {
		t.Fatalf("UploadPartCopy = %+v, %v", p, err)
	}
	reqs, _ := f.take()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	wantHeaders(t, reqs[0], map[string]string{
		"X-Amz-Copy-Source":                  "bucket/a%20b",
		"X-Amz-Copy-Source-Range":            "bytes=5-14",
		"X-Amz-Copy-Source-If-Match":         `"e1"`,
		"X-Amz-Request-Payer":                "requester",
		"X-Amz-Expected-Bucket-Owner":        "123456789012",
		"X-Amz-Source-Expected-Bucket-Owner": "123456789012",
	})
	if q := reqs[0].URL.Query(); q.Get("partNumber") != "3" || q.Get("uploadId") != "up1" {
		t.Errorf("UploadPartCopy query %v", q)
	}
	for _, in := range []objstore.PartCopyInput{{Length: 0}, {Offset: -1, Length: 1}} {
		in.Key, in.UploadID, in.Number, in.SrcKey = "k", "up1", 1, "a"
		if _, err := c.UploadPartCopy(ctx, in); !errors.Is(err, objstore.ErrInvalidRange) {
			t.Errorf("UploadPartCopy of %d bytes at %d: %v, want ErrInvalidRange", in.Length, in.Offset, err)
		}
	}
	if reqs, _ := f.take(); len(reqs) != 0 {
		t.Errorf("%d requests for empty ranges", len(reqs))
	}
}

// Metadata and conditions reach the server; an upload for copies is created
// without a checksum algorithm; Complete lists the parts' checksums only
// when every part has one.
func TestConditionsAndMetadataRequests(t *testing.T) {
	f := &copyFake{}
	c := startServer(t, f, nil)
	ctx := context.Background()
	meta := map[string]string{"mode": "0644"}
	if _, err := c.Put(ctx, objstore.PutInput{Key: "k", Body: []byte("x"), IfMatch: `"e1"`, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	for _, copyParts := range []bool{false, true} {
		if _, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "k", Metadata: meta, CopyParts: copyParts}); err != nil {
			t.Fatal(err)
		}
	}
	all := []objstore.Part{{Number: 1, ETag: `"a"`, ChecksumCRC32C: "AAAAAA=="}, {Number: 2, ETag: `"b"`, ChecksumCRC32C: "AAAAAQ=="}}
	mixed := []objstore.Part{all[0], {Number: 2, ETag: `"pc"`}}
	if _, err := c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: "up1", Parts: all, IfMatch: `"e2"`}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "k", UploadID: "up1", Parts: mixed, IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	reqs, bodies := f.take()
	if len(reqs) != 5 {
		t.Fatalf("%d requests", len(reqs))
	}
	wantHeaders(t, reqs[0], map[string]string{"If-Match": `"e1"`, "If-None-Match": "", "X-Amz-Meta-Mode": "0644"})
	wantHeaders(t, reqs[1], map[string]string{"X-Amz-Meta-Mode": "0644", "X-Amz-Checksum-Algorithm": "CRC32C"})
	wantHeaders(t, reqs[2], map[string]string{"X-Amz-Meta-Mode": "0644", "X-Amz-Checksum-Algorithm": "",
		"X-Amz-Storage-Class": "STANDARD_IA", "X-Amz-Server-Side-Encryption": "aws:kms"})
	wantHeaders(t, reqs[3], map[string]string{"If-Match": `"e2"`, "If-None-Match": ""})
	wantHeaders(t, reqs[4], map[string]string{"If-Match": "", "If-None-Match": "*"})
	if n := strings.Count(bodies[3], "<ChecksumCRC32C>"); n != 2 {
		t.Errorf("Complete with every part's checksum lists %d: %s", n, bodies[3])
	}
	if strings.Contains(bodies[4], "ChecksumCRC32C") {
		t.Errorf("Complete with a part without checksum lists checksums: %s", bodies[4])
	}
}

func TestListMultipartUploadsPages(t *testing.T) {
	f := &copyFake{}
	c := startServer(t, f, nil)
	ups, err := c.ListMultipartUploads(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range ups {
		got = append(got, u.Key+"="+u.UploadID)
		if u.Initiated.Year() != 2024 {
			t.Errorf("upload %s initiated %v", u.UploadID, u.Initiated)
		}
	}
	if want := "aé=u3 k b=u2 z+z=u1"; strings.Join(got, " ") != want {
		t.Errorf("ListMultipartUploads = %q, want %q (decoded, in key order)", got, want)
	}
	if reqs, _ := f.take(); len(reqs) != 2 {
		t.Errorf("%d requests for two pages", len(reqs))
	}
	if _, err := c.ListMultipartUploads(context.Background(), "loop/"); err == nil {
		t.Error("a truncated page without markers was accepted")
	}
}

// With checksums off nothing about them is sent on copies either.
func TestCopyChecksumsOff(t *testing.T) {
	f := &copyFake{}
	c := startServer(t, f, func(cfg *s3.Config) { cfg.UploadChecksums = "off" })
	if _, err := c.CopyObject(context.Background(), objstore.CopyInput{Key: "d", SrcKey: "s"}); err != nil {
		t.Fatal(err)
	}
	reqs, _ := f.take()
	wantHeaders(t, reqs[0], map[string]string{"X-Amz-Checksum-Algorithm": ""})
}
