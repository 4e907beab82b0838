package objstoretest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

func testMultipart(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "big"
	sizes := []int{objstore.MinPartSize + 1, objstore.MinPartSize, 1000}
	var data []byte
	for i, n := range sizes {
		data = append(data, pattern(n, byte(10+i))...)
	}
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	// Upload in reverse order: only the numbers given to Complete define the layout.
	parts := make([]objstore.Part, len(sizes))
	off := len(data)
	for i := len(sizes) - 1; i >= 0; i-- {
		off -= sizes[i]
		p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: int32(i + 1), Body: data[off : off+sizes[i]]})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		if p.Number != int32(i+1) || p.ETag == "" || p.Size != int64(sizes[i]) {
			t.Errorf("UploadPart %d returned %+v", i+1, p)
		}
		parts[i] = p
	}
	if _, err := c.Head(ctx(t), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head before CompleteMultipartUpload: %v, want ErrNotFound", err)
	}
	out, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id, Parts: parts})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if !strings.HasPrefix(out.ETag, `"`) {
		t.Errorf("multipart ETag %q is not quoted", out.ETag)
	}
	info, err := c.Head(ctx(t), key)
	if err != nil || info.Size != int64(len(data)) || info.ETag != out.ETag {
		t.Fatalf("Head after Complete = %+v, %v; want size %d etag %s", info, err, len(data), out.ETag)
	}
	g, err := c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1, IfMatch: out.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, g), data) {
		t.Error("multipart object content differs from the parts uploaded")
	}
	// A range straddling the first part boundary.
	start := int64(sizes[0] - 100)
	g, err = c.Get(ctx(t), objstore.GetInput{Key: key, Offset: start, Length: 200})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, g), data[start:start+200]) || g.Offset != start || g.Info.Size != int64(len(data)) {
		t.Errorf("range across part boundary: offset %d size %d or bytes wrong", g.Offset, g.Info.Size)
	}
}

func testMultipartAbort(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "aborted"
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: 1, Body: []byte("only part")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AbortMultipartUpload(ctx(t), key, id); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	if _, err := c.Head(ctx(t), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after abort: %v, want ErrNotFound", err)
	}
	// The upload is gone: completing it fails with NoSuchUpload (ErrNotFound).
	_, err = c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id, Parts: []objstore.Part{p}})
	wantErr(t, "Complete after Abort", err, objstore.ErrNotFound)
	if _, err := c.Head(ctx(t), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after Complete of aborted upload: %v, want ErrNotFound", err)
	}
}

func testMultipartUnknownUpload(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "unknown"
	// Get a well-formed ID the server no longer knows (servers may reject
	// malformed IDs with other errors).
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AbortMultipartUpload(ctx(t), key, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: 1, Body: []byte("x")})
	wantErr(t, "UploadPart to an unknown upload", err, objstore.ErrNotFound)
	_, err = c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id,
		Parts: []objstore.Part{{Number: 1, ETag: `"0123456789abcdef0123456789abcdef"`}}})
	wantErr(t, "Complete of an unknown upload", err, objstore.ErrNotFound)
}
