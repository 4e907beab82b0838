package objstoretest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// User metadata comes back from HEAD and GET with lower-case names, whole;
// a PUT or a multipart upload replaces it; listings carry none.
func testMetadata(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "f"
	sent := map[string]string{"mode": "0644", "Mixed-Case": "Value Keeps Its Case", "mtime": "1700000000.5"}
	want := map[string]string{"mode": "0644", "mixed-case": "Value Keeps Its Case", "mtime": "1700000000.5"}
	v, err := c.Put(ctx(t), objstore.PutInput{Key: key, Body: []byte("x"), Metadata: sent})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, c, key, []byte("x"), v.ETag, want)
	out, err := c.List(ctx(t), objstore.ListInput{Prefix: prefix})
	if err != nil || len(out.Objects) != 1 || out.Objects[0].Metadata != nil {
		t.Errorf("List = %+v, %v; want one object without metadata", out, err)
	}
	// A PUT without metadata leaves none.
	v = put(t, c, key, []byte("y"))
	checkObject(t, c, key, []byte("y"), v.ETag, nil)

	mp := prefix + "multipart"
	meta := map[string]string{"uid": "1000", "gid": "1000"}
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: mp, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: mp, UploadID: id, Number: 1, Body: []byte("one part")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: mp, UploadID: id, Parts: []objstore.Part{p}})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, c, mp, []byte("one part"), done.ETag, meta)
}

// PUT If-Match replaces exactly the version named; another ETag is 412 and a
// missing key 404, and neither writes anything.
func testPutIfMatch(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "f"
	v1 := put(t, c, key, []byte("version one"))
	v2, err := c.Put(ctx(t), objstore.PutInput{Key: key, Body: []byte("version two"), IfMatch: v1.ETag,
		Metadata: map[string]string{"mode": "0600"}})
	if err != nil {
		t.Fatalf("Put If-Match the current ETag: %v", err)
	}
	checkObject(t, c, key, []byte("version two"), v2.ETag, map[string]string{"mode": "0600"})
	_, err = c.Put(ctx(t), objstore.PutInput{Key: key, Body: []byte("version three"), IfMatch: v1.ETag})
	wantErr(t, "Put If-Match an old ETag", err, objstore.ErrPreconditionFailed)
	checkObject(t, c, key, []byte("version two"), v2.ETag, map[string]string{"mode": "0600"})

	missing := prefix + "missing"
	_, err = c.Put(ctx(t), objstore.PutInput{Key: missing, Body: []byte("x"), IfMatch: v1.ETag})
	wantErr(t, "Put If-Match on a missing key", err, objstore.ErrNotFound)
	if _, err := c.Head(ctx(t), missing); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after a refused Put If-Match: %v, want ErrNotFound", err)
	}
}

// A completion whose condition fails is 412 (404 for If-Match on a missing
// key) and leaves the upload pending: it can then be completed with a
// condition that holds.
func testCompleteConditions(t *testing.T, c objstore.Client, prefix string) {
	key := prefix + "f"
	body := []byte("the new version")
	id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: key, UploadID: id, Number: 1, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	in := objstore.CompleteInput{Key: key, UploadID: id, Parts: []objstore.Part{p}}
	complete := func(ifMatch string, ifNoneMatch bool) (objstore.PutOutput, error) {
		in := in
		in.IfMatch, in.IfNoneMatch = ifMatch, ifNoneMatch
		return c.CompleteMultipartUpload(ctx(t), in)
	}
	_, err = complete(md5ETag([]byte("x")), false)
	wantErr(t, "Complete If-Match on a missing key", err, objstore.ErrNotFound)

	old := put(t, c, key, []byte("the old version"))
	_, err = complete("", true)
	wantErr(t, "Complete If-None-Match on an existing key", err, objstore.ErrPreconditionFailed)
	_, err = complete(md5ETag([]byte("x")), false)
	wantErr(t, "Complete If-Match another ETag", err, objstore.ErrPreconditionFailed)
	checkObject(t, c, key, []byte("the old version"), old.ETag, nil)

	out, err := complete(old.ETag, false)
	if err != nil {
		t.Fatalf("Complete If-Match the current ETag, after refused completions: %v", err)
	}
	checkObject(t, c, key, body, out.ETag, nil)
	_, err = complete(out.ETag, false)
	wantErr(t, "second Complete of the same upload", err, objstore.ErrNotFound)
	// The condition is evaluated before the upload is looked up.
	_, err = complete("", true)
	wantErr(t, "second Complete, If-None-Match on the key it made", err, objstore.ErrPreconditionFailed)

	// If-None-Match on a new key succeeds.
	fresh := prefix + "fresh"
	id, err = c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = c.UploadPart(ctx(t), objstore.PartInput{Key: fresh, UploadID: id, Number: 1, Body: body}); err != nil {
		t.Fatal(err)
	}
	out, err = c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: fresh, UploadID: id, Parts: []objstore.Part{p}, IfNoneMatch: true})
	if err != nil {
		t.Fatalf("Complete If-None-Match on a new key: %v", err)
	}
	checkObject(t, c, fresh, body, out.ETag, nil)
}

// Pending uploads are listed until completed or aborted. The prefix given
// is always a whole key: MinIO matches no other.
func testListMultipartUploads(t *testing.T, c objstore.Client, prefix string) {
	before := time.Now().Add(-time.Minute)
	a, b, special := prefix+"a", prefix+"b", prefix+"sp ace+plus%25é"
	ids := map[string][]string{}
	for _, key := range []string{a, a, b, special} {
		id, err := c.CreateMultipartUpload(ctx(t), objstore.CreateMultipartInput{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		ids[key] = append(ids[key], id)
	}
	t.Cleanup(func() {
		for key, list := range ids {
			for _, id := range list {
				_ = c.AbortMultipartUpload(ctx(t), key, id)
			}
		}
	})
	check := func(key string, want []string) {
		t.Helper()
		got, err := c.ListMultipartUploads(ctx(t), key)
		if err != nil {
			t.Fatalf("ListMultipartUploads(%q): %v", key, err)
		}
		var gotIDs []string
		for _, u := range got {
			if u.Key != key {
				t.Errorf("ListMultipartUploads(%q) lists an upload of %q", key, u.Key)
			}
			if u.Initiated.Before(before) || u.Initiated.After(time.Now().Add(time.Minute)) {
				t.Errorf("upload %s initiated %v, not about now", u.UploadID, u.Initiated)
			}
			gotIDs = append(gotIDs, u.UploadID)
		}
		slices.Sort(gotIDs)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(gotIDs, want) {
			t.Errorf("ListMultipartUploads(%q) = %q, want %q", key, gotIDs, want)
		}
	}
	check(a, ids[a])
	check(b, ids[b])
	check(special, ids[special])

	all, err := c.ListMultipartUploads(ctx(t), "")
	if err != nil {
		t.Fatalf("ListMultipartUploads of the bucket: %v", err)
	}
	keyOf := map[string]string{}
	for _, u := range all {
		keyOf[u.UploadID] = u.Key
	}
	for key, list := range ids {
		for _, id := range list {
			if keyOf[id] != key {
				t.Errorf("ListMultipartUploads of the bucket lacks %s of %q", id, key)
			}
		}
	}

	if err := c.AbortMultipartUpload(ctx(t), a, ids[a][0]); err != nil {
		t.Fatal(err)
	}
	ids[a] = ids[a][1:]
	check(a, ids[a])
	p, err := c.UploadPart(ctx(t), objstore.PartInput{Key: b, UploadID: ids[b][0], Number: 1, Body: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx(t), objstore.CompleteInput{Key: b, UploadID: ids[b][0], Parts: []objstore.Part{p}}); err != nil {
		t.Fatal(err)
	}
	delete(ids, b)
	check(b, nil)
}
