package s3_test

import (
	"context"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/testutil/miniotest"
)

// A checksum the caller computed is the one sent: the server accepts the body
// when it matches and refuses it (no object, no part) when it does not. The
// writer computes parts' checksums itself, so this is what guards the bytes.
func TestGivenChecksumIsTheOneTheServerChecks(t *testing.T) {
	srv := miniotest.Shared(t)
	c := srv.Client(t, srv.NewBucket(t))
	ctx := context.Background()
	body := []byte("the bytes of a small object")
	right := objstore.CRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	wrong := objstore.CRC32C(crc32.Checksum([]byte("other bytes"), crc32.MakeTable(crc32.Castagnoli)))

	if _, err := c.Put(ctx, objstore.PutInput{Key: "right", Body: body, ChecksumCRC32C: right}); err != nil {
		t.Fatalf("Put with the body's CRC32C: %v", err)
	}
	if info, err := c.Head(ctx, "right"); err != nil || info.Size != int64(len(body)) {
		t.Errorf("Head after Put with the body's CRC32C: %+v, %v", info, err)
	}
	if _, err := c.Put(ctx, objstore.PutInput{Key: "wrong", Body: body, ChecksumCRC32C: wrong}); err == nil {
		t.Errorf("Put with another body's CRC32C succeeded")
	}
	if _, err := c.Head(ctx, "wrong"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after Put with a wrong CRC32C: %v, want ErrNotFound", err)
	}

	id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "parts"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.AbortMultipartUpload(context.WithoutCancel(ctx), "parts", id)
	p, err := c.UploadPart(ctx, objstore.PartInput{Key: "parts", UploadID: id, Number: 1, Body: body, ChecksumCRC32C: right})
	if err != nil || p.ChecksumCRC32C != right {
		t.Errorf("UploadPart with the body's CRC32C: %+v, %v; want checksum %s", p, err, right)
	}
	if _, err := c.UploadPart(ctx, objstore.PartInput{Key: "parts", UploadID: id, Number: 2, Body: body, ChecksumCRC32C: wrong}); err == nil {
		t.Errorf("UploadPart with another body's CRC32C succeeded")
	}
}

// With --upload-checksums off no checksum is sent, not even one the caller
// computed.
func TestChecksumsOffSendsNoGivenChecksum(t *testing.T) {
	srv := miniotest.Shared(t)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.UploadChecksums = "off"
	c := newClient(t, cfg)
	wrong := objstore.CRC32C(12345)
	if _, err := c.Put(context.Background(), objstore.PutInput{Key: "k", Body: []byte("body"), ChecksumCRC32C: wrong}); err != nil {
		t.Errorf("Put without checksums failed on a checksum it should not send: %v", err)
	}
}

// How copied parts and checksums go together on MinIO: with CRC32C
// checksums on, an upload created with the algorithm refuses every
// UploadPartCopy (MinIO computes no checksum for a copied part), which is
// why CopyParts creates it without one. In such an upload a sent part still
// carries its CRC32C, which the server checks, a copied part has none, and
// an upload mixing them completes. With checksums off no upload has an
// algorithm and copies go anywhere.
func TestUploadPartCopyChecksums(t *testing.T) {
	srv := miniotest.Shared(t)
	for _, checksums := range []string{"crc32c", "off"} {
		t.Run(checksums, func(t *testing.T) {
			cfg := srv.Config(srv.NewBucket(t))
			cfg.UploadChecksums = checksums
			c := newClient(t, cfg)
			ctx := context.Background()
			src := []byte("bytes to copy")
			if _, err := c.Put(ctx, objstore.PutInput{Key: "src", Body: src}); err != nil {
				t.Fatal(err)
			}
			copyPart := func(key, id string, n int32) (objstore.Part, error) {
				return c.UploadPartCopy(ctx, objstore.PartCopyInput{Key: key, UploadID: id, Number: n, SrcKey: "src", Offset: 0, Length: int64(len(src))})
			}

			plain, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "plain"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.AbortMultipartUpload(context.WithoutCancel(ctx), "plain", plain)
			_, err = copyPart("plain", plain, 1)
			if checksums == "off" && err != nil {
				t.Errorf("UploadPartCopy without checksums: %v", err)
			}
			if checksums == "crc32c" && err == nil {
				t.Errorf("UploadPartCopy into an upload with CRC32C succeeded: MinIO now copies there, CopyParts may be unneeded")
			}

			body := make([]byte, objstore.MinPartSize)
			for i := range body {
				body[i] = byte(i)
			}
			crc := objstore.CRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
			id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: "mixed", CopyParts: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.UploadPart(ctx, objstore.PartInput{Key: "mixed", UploadID: id, Number: 1, Body: body, ChecksumCRC32C: objstore.CRC32C(1)})
			if checksums == "crc32c" && err == nil {
				t.Errorf("UploadPart with a wrong CRC32C into a CopyParts upload succeeded")
			}
			sent, err := c.UploadPart(ctx, objstore.PartInput{Key: "mixed", UploadID: id, Number: 1, Body: body, ChecksumCRC32C: crc})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"crc32c": crc, "off": ""}[checksums]; sent.ChecksumCRC32C != want {
				t.Errorf("sent part's checksum %q, want %q", sent.ChecksumCRC32C, want)
			}
			copied, err := copyPart("mixed", id, 2)
			if err != nil {
				t.Fatalf("UploadPartCopy into a CopyParts upload: %v", err)
			}
			if copied.ChecksumCRC32C != "" || copied.Size != int64(len(src)) {
				t.Errorf("copied part %+v, want size %d and no checksum", copied, len(src))
			}
			out, err := c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: "mixed", UploadID: id, Parts: []objstore.Part{sent, copied}})
			if err != nil {
				t.Fatalf("Complete of sent and copied parts: %v", err)
			}
			if info, err := c.Head(ctx, "mixed"); err != nil || info.ETag != out.ETag || info.Size != int64(len(body)+len(src)) {
				t.Errorf("Head = %+v, %v", info, err)
			}
		})
	}
}
