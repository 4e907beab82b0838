package objstoretest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// md5ETag is the ETag of a single-part object (or of a part) holding b
// without encryption: its quoted MD5.
func md5ETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// sentinels is every objstore sentinel, for errors that must be none of them.
var sentinels = []error{objstore.ErrNotFound, objstore.ErrNoSuchBucket, objstore.ErrAccessDenied,
	objstore.ErrPreconditionFailed, objstore.ErrThrottled, objstore.ErrUnreachable, objstore.ErrInvalidRange}

// wantNoSentinel fails unless err is an error that is none of the sentinels.
func wantNoSentinel(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want an error", what)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Fatalf("%s: %v is %v, want no sentinel", what, err, s)
		}
	}
}

// checkObject checks key's content, ETag and metadata with a HEAD and a GET.
func checkObject(t *testing.T, c objstore.Client, key string, data []byte, etag string, meta map[string]string) {
	t.Helper()
	info, err := c.Head(ctx(t), key)
	if err != nil {
		t.Fatalf("Head(%q): %v", key, err)
	}
	if info.Size != int64(len(data)) || info.ETag != etag || !maps.Equal(info.Metadata, meta) {
		t.Errorf("Head(%q) = size %d etag %s metadata %v; want %d %s %v", key, info.Size, info.ETag, info.Metadata, len(data), etag, meta)
	}
	g, err := c.Get(ctx(t), objstore.GetInput{Key: key, Length: -1})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if got := readAll(t, g); !bytes.Equal(got, data) || g.Info.ETag != etag || !maps.Equal(g.Info.Metadata, meta) {
		t.Errorf("Get(%q) = %d bytes (equal: %v) etag %s metadata %v; want %d bytes %s %v",
			key, len(got), bytes.Equal(got, data), g.Info.ETag, g.Info.Metadata, len(data), etag, meta)
	}
}

// multipartObject writes key as a two-part upload (MinPartSize + tail bytes)
// with metadata meta, and returns its content and ETag.
func multipartObject(t *testing.T, c objstore.Client, key string, tail int, meta map[string]string) ([]byte, string) {
	t.Helper()
	data := pattern(objstore.MinPartSize+tail, 21)
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key, Metadata: meta})
	if err != nil {
		t.Fatalf("CreateMultipartUpload(%q): %v", key, err)
	}
	var parts []objstore.Part
	for i, body := range [][]byte{data[:objstore.MinPartSize], data[objstore.MinPartSize:]} {
		p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: int32(i + 1), Body: body})
		if err != nil {
			t.Fatalf("UploadPart %d of %q: %v", i+1, key, err)
		}
		parts = append(parts, p)
	}
	out, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id, Parts: parts})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload(%q): %v", key, err)
	}
	if !strings.HasSuffix(out.ETag, `-2"`) {
		t.Fatalf("multipart ETag %s has no -2 suffix", out.ETag)
	}
	return data, out.ETag
}

// A copy of a single-part object has its content, its ETag (the MD5 of the
// content) and, unless replaced, its metadata; the destination is
// overwritten without condition.
func testCopyObject(t *testing.T, c objstore.Client, prefix string) {
	src, data := prefix+"src", []byte("the source's bytes")
	meta := map[string]string{"mode": "0644", "uid": "1000"}
	v, err := c.Put(ctx(t), objstore.PutInput{Key: src, Body: data, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	dst := prefix + "dst"
	put(t, c, dst, []byte("an older object at the destination"))
	out, err := c.CopyObject(ctx(t), objstore.CopyInput{Key: dst, SrcKey: src, SrcIfMatch: v.ETag})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if out.ETag != v.ETag {
		t.Errorf("copy of a single-part object: ETag %s, want the source's %s", out.ETag, v.ETag)
	}
	checkObject(t, c, dst, data, out.ETag, meta)

	repl := map[string]string{"mode": "0600", "gid": "5"}
	out, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: prefix + "replaced", SrcKey: src, ReplaceMetadata: true, Metadata: repl})
	if err != nil {
		t.Fatalf("CopyObject with ReplaceMetadata: %v", err)
	}
	checkObject(t, c, prefix+"replaced", data, v.ETag, repl)
	checkObject(t, c, src, data, v.ETag, meta) // the source is untouched

	_, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: dst, SrcKey: src, SrcIfMatch: md5ETag([]byte("other"))})
	wantErr(t, "CopyObject with another CopySourceIfMatch", err, objstore.ErrPreconditionFailed)
	_, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: prefix + "nothing", SrcKey: prefix + "missing"})
	wantErr(t, "CopyObject of a missing source", err, objstore.ErrNotFound)
	if _, err := c.Head(ctx(t), prefix+"nothing"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after a failed copy: %v, want ErrNotFound", err)
	}
}

// A copy onto itself changes the metadata in place, keeping the content and
// (for a single-part object) the ETag; one that changes nothing is refused.
func testCopyObjectOntoItself(t *testing.T, c objstore.Client, prefix string) {
	key, data := prefix+"self", []byte("content that stays")
	v, err := c.Put(ctx(t), objstore.PutInput{Key: key, Body: data, Metadata: map[string]string{"mode": "0644"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: key, SrcKey: key})
	wantNoSentinel(t, "CopyObject onto itself keeping the metadata", err)

	repl := map[string]string{"mode": "0755"}
	out, err := c.CopyObject(ctx(t), objstore.CopyInput{Key: key, SrcKey: key, SrcIfMatch: v.ETag, ReplaceMetadata: true, Metadata: repl})
	if err != nil {
		t.Fatalf("CopyObject onto itself replacing the metadata: %v", err)
	}
	if out.ETag != v.ETag {
		t.Errorf("copy onto itself: ETag %s, want %s kept", out.ETag, v.ETag)
	}
	checkObject(t, c, key, data, v.ETag, repl)
	_, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: key, SrcKey: key, SrcIfMatch: md5ETag([]byte("other")), ReplaceMetadata: true})
	wantErr(t, "CopyObject onto itself with another CopySourceIfMatch", err, objstore.ErrPreconditionFailed)
	checkObject(t, c, key, data, v.ETag, repl)

	// Replacing with no metadata removes it.
	if _, err := c.CopyObject(ctx(t), objstore.CopyInput{Key: key, SrcKey: key, ReplaceMetadata: true}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, c, key, data, v.ETag, nil)
}

// A copy of a multipart object is a single-part object: its ETag is the MD5
// of the content, without the "-N" suffix, also when copied onto itself.
func testCopyMultipartSource(t *testing.T, c objstore.Client, prefix string) {
	src := prefix + "multipart"
	meta := map[string]string{"mode": "0640"}
	data, etag := multipartObject(t, c, src, 1000, meta)
	want := md5ETag(data)
	out, err := c.CopyObject(ctx(t), objstore.CopyInput{Key: prefix + "copy", SrcKey: src, SrcIfMatch: etag})
	if err != nil {
		t.Fatalf("CopyObject of a multipart object: %v", err)
	}
	if out.ETag != want {
		t.Errorf("copy of a multipart object: ETag %s, want the content's MD5 %s (source %s)", out.ETag, want, etag)
	}
	checkObject(t, c, prefix+"copy", data, want, meta)

	repl := map[string]string{"mode": "0600"}
	out, err = c.CopyObject(ctx(t), objstore.CopyInput{Key: src, SrcKey: src, SrcIfMatch: etag, ReplaceMetadata: true, Metadata: repl})
	if err != nil {
		t.Fatalf("CopyObject of a multipart object onto itself: %v", err)
	}
	if out.ETag != want {
		t.Errorf("multipart object copied onto itself: ETag %s, want the content's MD5 %s", out.ETag, want)
	}
	checkObject(t, c, src, data, want, repl)
}

// Keys that need escaping in the copy source header (x-amz-copy-source).
func testCopySpecialKeys(t *testing.T, c objstore.Client, prefix string) {
	for i, k := range specialKeys {
		src, dst := prefix+"src/"+k, prefix+"dst/"+k+" copy"
		body := []byte("bytes of " + k)
		v := put(t, c, src, body)
		out, err := c.CopyObject(ctx(t), objstore.CopyInput{Key: dst, SrcKey: src, SrcIfMatch: v.ETag})
		if err != nil {
			t.Errorf("CopyObject(%q → %q): %v", src, dst, err)
			continue
		}
		checkObject(t, c, dst, body, out.ETag, nil)

		// The same key as an UploadPartCopy source, into an upload of a special key.
		part := prefix + "part/" + specialKeys[(i+1)%len(specialKeys)]
		id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: part, CopyParts: true})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.UploadPartCopy(ctx(t), objstore.PartCopyInput{Key: part, UploadID: id, Number: 1, SrcKey: src,
			SrcIfMatch: v.ETag, Offset: 1, Length: int64(len(body) - 1)})
		if err != nil {
			t.Errorf("UploadPartCopy(%q → %q): %v", src, part, err)
			_ = c.AbortMultipartUpload(ctx(t), part, id)
			continue
		}
		done, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: part, UploadID: id, Parts: []objstore.Part{p}})
		if err != nil {
			t.Fatalf("Complete(%q): %v", part, err)
		}
		checkObject(t, c, part, body[1:], done.ETag, nil)
	}
}

// An upload made of copied ranges (of a multipart and of a single-part
// object) and of sent parts, mixed, completed with a condition.
func testUploadPartCopy(t *testing.T, c objstore.Client, prefix string) {
	mp := prefix + "multipart"
	mpData, mpETag := multipartObject(t, c, mp, 5000, nil)
	small := []byte("a small single-part source")
	sv := put(t, c, prefix+"small", small)

	key := prefix + "assembled"
	meta := map[string]string{"mode": "0600", "mtime": "1700000000"}
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key, Metadata: meta, CopyParts: true})
	if err != nil {
		t.Fatal(err)
	}
	// Part 1: a range across the source's part boundary; part 2 sent; part 3
	// a range of a single-part object.
	off := int64(2000)
	want := bytes.Clone(mpData[off : off+objstore.MinPartSize])
	p1, err := c.UploadPartCopy(ctx(t), objstore.PartCopyInput{Key: key, UploadID: id, Number: 1, SrcKey: mp, SrcIfMatch: mpETag,
		Offset: off, Length: objstore.MinPartSize})
	if err != nil {
		t.Fatalf("UploadPartCopy of a multipart range: %v", err)
	}
	if p1.Number != 1 || p1.Size != objstore.MinPartSize || p1.ETag != md5ETag(want) {
		t.Errorf("UploadPartCopy returned %+v; want number 1, size %d, ETag %s (the range's MD5)", p1, objstore.MinPartSize, md5ETag(want))
	}
	sent := pattern(objstore.MinPartSize, 33)
	p2, err := c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: 2, Body: sent})
	if err != nil {
		t.Fatalf("UploadPart between copied parts: %v", err)
	}
	want = append(want, sent...)
	p3, err := c.UploadPartCopy(ctx(t), objstore.PartCopyInput{Key: key, UploadID: id, Number: 3, SrcKey: prefix + "small", SrcIfMatch: sv.ETag,
		Offset: 2, Length: 5})
	if err != nil {
		t.Fatalf("UploadPartCopy of a single-part range: %v", err)
	}
	if p3.Size != 5 || p3.ETag != md5ETag(small[2:7]) {
		t.Errorf("UploadPartCopy of 5 bytes returned %+v, want ETag %s", p3, md5ETag(small[2:7]))
	}
	want = append(want, small[2:7]...)
	if _, err := c.Head(ctx(t), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head before Complete: %v, want ErrNotFound", err)
	}
	out, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id, Parts: []objstore.Part{p1, p2, p3}, IfNoneMatch: true})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload of copied and sent parts: %v", err)
	}
	if !strings.HasSuffix(out.ETag, `-3"`) {
		t.Errorf("ETag %s of a 3-part upload", out.ETag)
	}
	checkObject(t, c, key, want, out.ETag, meta)
}

// UploadPartCopy's failures: the source's condition, a missing source, a
// range outside it, an unknown upload.
func testUploadPartCopyErrors(t *testing.T, c objstore.Client, prefix string) {
	src := prefix + "src"
	v := put(t, c, src, []byte("0123456789"))
	key := prefix + "dst"
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key, CopyParts: true})
	if err != nil {
		t.Fatal(err)
	}
	in := objstore.PartCopyInput{Key: key, UploadID: id, Number: 1, SrcKey: src, SrcIfMatch: v.ETag, Offset: 0, Length: 10}
	try := func(mod func(*objstore.PartCopyInput)) error {
		in := in
		mod(&in)
		_, err := c.UploadPartCopy(ctx(t), in)
		return err
	}
	err = try(func(in *objstore.PartCopyInput) { in.SrcIfMatch = md5ETag([]byte("other")) })
	wantErr(t, "UploadPartCopy with another CopySourceIfMatch", err, objstore.ErrPreconditionFailed)
	err = try(func(in *objstore.PartCopyInput) { in.SrcKey = prefix + "missing"; in.SrcIfMatch = "" })
	wantErr(t, "UploadPartCopy of a missing source", err, objstore.ErrNotFound)
	err = try(func(in *objstore.PartCopyInput) { in.Offset, in.Length = 10, 1 })
	wantErr(t, "UploadPartCopy from the end of the source", err, objstore.ErrInvalidRange)
	err = try(func(in *objstore.PartCopyInput) { in.Offset, in.Length = 5, 6 })
	wantNoSentinel(t, "UploadPartCopy of a range ending past the source", err)
	err = try(func(in *objstore.PartCopyInput) { in.Length = 0 })
	wantErr(t, "UploadPartCopy of no bytes", err, objstore.ErrInvalidRange)

	// The failures left nothing: the same part number can still be copied.
	p, err := c.UploadPartCopy(ctx(t), in)
	if err != nil {
		t.Fatalf("UploadPartCopy after the failures: %v", err)
	}
	if err := c.AbortMultipartUpload(ctx(t), key, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPartCopy(ctx(t), in)
	wantErr(t, "UploadPartCopy into an aborted upload", err, objstore.ErrNotFound)
	_, err = c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: key, UploadID: id, Parts: []objstore.Part{p}})
	wantErr(t, "Complete of an aborted upload", err, objstore.ErrNotFound)
}
