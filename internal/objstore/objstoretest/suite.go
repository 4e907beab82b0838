// Package objstoretest holds what every objstore.Client implementation is
// tested with: a conformance suite (Run) that runs the same test bodies against
// memstore and against a real S3-compatible server (MinIO in CI), and a
// fault-injecting wrapper (Faulty) that turns any Client into one that fails on
// demand.
//
// The suite only uses key layouts that real S3 and MinIO accept (no "a/./b",
// no "//", no key that is both an object and a "directory"); memstore-only
// corner cases are tested in the memstore package.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Run runs the conformance suite. newClient is called once per subtest and may
// return clients on a shared bucket: every subtest writes under its own unique
// key prefix.
func Run(t *testing.T, newClient func(t *testing.T) objstore.Client) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c objstore.Client, prefix string)
	}{
		{"CheckBucket", testCheckBucket},
		{"MissingKey", testMissingKey},
		{"PutHeadGet", testPutHeadGet},
		{"OverwriteChangesETag", testOverwriteChangesETag},
		{"EmptyObject", testEmptyObject},
		{"GetIfMatch", testGetIfMatch},
		{"RangedGet", testRangedGet},
		{"PutIfNoneMatch", testPutIfNoneMatch},
		{"Delete", testDelete},
		{"ListDelimiter", testListDelimiter},
		{"ListPaging", testListPaging},
		{"ListFlatPaging", testListFlatPaging},
		{"ListStartAfter", testListStartAfter},
		{"ListEmpty", testListEmpty},
		{"SpecialCharacterKeys", testSpecialCharacterKeys},
		{"Multipart", testMultipart},
		{"MultipartAbort", testMultipartAbort},
		{"MultipartUnknownUpload", testMultipartUnknownUpload},
		{"Metadata", testMetadata},
		{"PutIfMatch", testPutIfMatch},
		{"CompleteConditions", testCompleteConditions},
		{"ListMultipartUploads", testListMultipartUploads},
		{"CopyObject", testCopyObject},
		{"CopyObjectOntoItself", testCopyObjectOntoItself},
		{"CopyMultipartSource", testCopyMultipartSource},
		{"CopySpecialKeys", testCopySpecialKeys},
		{"UploadPartCopy", testUploadPartCopy},
		{"UploadPartCopyErrors", testUploadPartCopyErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t)
			tc.fn(t, c, uniquePrefix(tc.name))
		})
	}
}

func uniquePrefix(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "objstoretest/" + name + "-" + hex.EncodeToString(b[:]) + "/"
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// pattern returns n deterministic, position-dependent bytes so that a range
// returned from the wrong offset is detected.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

func put(t *testing.T, c objstore.Client, key string, data []byte) objstore.PutOutput {
	t.Helper()
	out, err := c.Put(ctx(t), objstore.PutInput{Key: key, Body: data})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return out
}

// readAll reads a GET body, checking that it holds exactly the announced Length.
func readAll(t *testing.T, out *objstore.GetOutput) []byte {
	t.Helper()
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	if int64(len(b)) != out.Length {
		t.Fatalf("body has %d bytes, GetOutput.Length says %d", len(b), out.Length)
	}
	return b
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func testCheckBucket(t *testing.T, c objstore.Client, _ string) {
	if c.Bucket() == "" {
		t.Error("Bucket() is empty")
	}
	if err := c.CheckBucket(ctx(t)); err != nil {
		t.Fatalf("CheckBucket: %v", err)
	}
}

func testMissingKey(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "missing"
	_, err := c.Head(ctx(t), key)
	wantErr(t, "Head of missing key", err, objstore.ErrNotFound)
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1})
	wantErr(t, "Get of missing key", err, objstore.ErrNotFound)
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Offset: 10, Length: 5})
	wantErr(t, "ranged Get of missing key", err, objstore.ErrNotFound)
}

func testPutHeadGet(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "dir/file.bin"
	data := pattern(100_000, 1)
	before := time.Now().Add(-time.Minute)
	out := put(t, c, key, data)
	if !strings.HasPrefix(out.ETag, `"`) || !strings.HasSuffix(out.ETag, `"`) || len(out.ETag) < 3 {
		t.Errorf("Put ETag %q is not a quoted string", out.ETag)
	}
	info, err := c.Head(ctx(t), key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ETag != out.ETag {
		t.Errorf("Head = %+v, want key %q size %d etag %s", info, key, len(data), out.ETag)
	}
	if info.LastModified.Before(before) || info.LastModified.After(time.Now().Add(time.Minute)) {
		t.Errorf("Head LastModified %v is not about now", info.LastModified)
	}
	g, err := c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if g.Offset != 0 || g.Info.Size != int64(len(data)) || g.Info.ETag != out.ETag || g.Info.Key != key {
		t.Errorf("Get output offset %d info %+v, want offset 0 size %d etag %s", g.Offset, g.Info, len(data), out.ETag)
	}
	if got := readAll(t, g); !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes that differ from the %d written", len(got), len(data))
	}
}

func testOverwriteChangesETag(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "f"
	a := put(t, c, key, []byte("first version"))
	b := put(t, c, key, []byte("second version, longer"))
	if a.ETag == b.ETag {
		t.Fatalf("overwrite with different content kept ETag %s", a.ETag)
	}
	info, err := c.Head(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != b.ETag || info.Size != int64(len("second version, longer")) {
		t.Errorf("Head after overwrite = %+v, want etag %s", info, b.ETag)
	}
}

func testEmptyObject(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "empty"
	out := put(t, c, key, nil)
	info, err := c.Head(ctx(t), key)
	if err != nil || info.Size != 0 {
		t.Fatalf("Head of empty object = %+v, %v", info, err)
	}
	// Offset 0 with Length < 0, with an explicit Length, and with IfMatch: all
	// must give an empty body (S3 itself answers 416 to "bytes=0-" here).
	for _, in := range []objstore.GetInput{
		{Key: key, Length: -1},
		{Key: key, Length: 10},
		{Key: key, Length: -1, IfMatch: out.ETag},
	} {
		g, err := c.Get(ctx(t), in)
		if err != nil {
			t.Fatalf("Get(%+v) of empty object: %v", in, err)
		}
		if b := readAll(t, g); len(b) != 0 || g.Offset != 0 || g.Length != 0 || g.Info.Size != 0 {
			t.Errorf("Get(%+v) of empty object: %d bytes, offset %d length %d size %d", in, len(b), g.Offset, g.Length, g.Info.Size)
		}
	}
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Offset: 1, Length: -1})
	wantErr(t, "Get offset 1 of empty object", err, objstore.ErrInvalidRange)
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1, IfMatch: `"0123456789abcdef0123456789abcdef"`})
	wantErr(t, "Get of empty object with wrong If-Match", err, objstore.ErrPreconditionFailed)
}

func testGetIfMatch(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "pinned"
	v1 := put(t, c, key, []byte("version one"))
	g, err := c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1, IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("Get with matching If-Match: %v", err)
	}
	if string(readAll(t, g)) != "version one" {
		t.Error("Get with matching If-Match returned wrong bytes")
	}
	put(t, c, key, []byte("version two"))
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1, IfMatch: v1.ETag})
	wantErr(t, "Get pinned to an overwritten ETag", err, objstore.ErrPreconditionFailed)
	_, err = c.Get(ctx(t), objstore.GetInput{Key: key, Offset: 2, Length: 3, IfMatch: v1.ETag})
	wantErr(t, "ranged Get pinned to an overwritten ETag", err, objstore.ErrPreconditionFailed)
}

func testRangedGet(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "ranged"
	const size = 10_000
	data := pattern(size, 3)
	out := put(t, c, key, data)
	cases := []struct {
		off, length     int64
		wantOff, wantLn int64
	}{
		{0, 10, 0, 10},
		{0, -1, 0, size},
		{5, -1, 5, size - 5},
		{4096, 4096, 4096, 4096},
		{size - 1, 1, size - 1, 1},
		{size - 10, 100, size - 10, 10}, // clamped to the end
		{0, size, 0, size},
		{0, size + 1, 0, size},
		{size / 2, 0, size / 2, 0}, // zero bytes: a real server needs a HEAD, not a GET
		{size, 0, size, 0},
	}
	for _, tc := range cases {
		g, err := c.Get(ctx(t), objstore.GetInput{Key: key, Offset: tc.off, Length: tc.length, IfMatch: out.ETag})
		if err != nil {
			t.Fatalf("Get(%d, %d): %v", tc.off, tc.length, err)
		}
		got := readAll(t, g)
		if g.Offset != tc.wantOff || g.Length != tc.wantLn || g.Info.Size != size || g.Info.ETag != out.ETag {
			t.Errorf("Get(%d, %d): offset %d length %d size %d etag %s; want %d %d %d %s",
				tc.off, tc.length, g.Offset, g.Length, g.Info.Size, g.Info.ETag, tc.wantOff, tc.wantLn, size, out.ETag)
		}
		if !bytes.Equal(got, data[tc.wantOff:tc.wantOff+tc.wantLn]) {
			t.Errorf("Get(%d, %d): wrong bytes", tc.off, tc.length)
		}
	}
	for _, in := range []objstore.GetInput{
		{Key: key, Offset: size, Length: -1},
		{Key: key, Offset: size, Length: 10},
		{Key: key, Offset: size + 100, Length: 10},
	} {
		_, err := c.Get(ctx(t), in)
		wantErr(t, fmt.Sprintf("Get(%d, %d) past the end", in.Offset, in.Length), err, objstore.ErrInvalidRange)
	}
}

func testPutIfNoneMatch(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "once"
	first, err := c.Put(ctx(t), objstore.PutInput{Key: key, Body: []byte("a"), IfNoneMatch: true})
	if err != nil {
		t.Fatalf("Put If-None-Match on a new key: %v", err)
	}
	_, err = c.Put(ctx(t), objstore.PutInput{Key: key, Body: []byte("b"), IfNoneMatch: true})
	wantErr(t, "Put If-None-Match on an existing key", err, objstore.ErrPreconditionFailed)
	info, err := c.Head(ctx(t), key)
	if err != nil || info.ETag != first.ETag {
		t.Errorf("after refused Put: Head = %+v, %v; want etag %s", info, err, first.ETag)
	}
}

func testDelete(t *testing.T, c objstore.Client, prefix string) {
	if err := c.Delete(ctx(t), prefix+"never-existed"); err != nil {
		t.Errorf("Delete of a missing key: %v (S3 treats it as success)", err)
	}
	key := prefix + "doomed"
	put(t, c, key, []byte("x"))
	if err := c.Delete(ctx(t), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := c.Head(ctx(t), key)
	wantErr(t, "Head after Delete", err, objstore.ErrNotFound)
	if err := c.Delete(ctx(t), key); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}
