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

	id, err := c.CreateMultipartUpload(ctx, "parts")
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
