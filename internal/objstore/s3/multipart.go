package s3

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// CreateMultipartUpload implements objstore.Client. Storage class, encryption
// and the checksum algorithm are fixed here, for the whole upload: with
// CRC32C every part must then carry its checksum and Complete must list them.
func (c *Client) CreateMultipartUpload(ctx context.Context, key string) (string, error) {
	ctx, cancel := c.small(ctx)
	defer cancel()
	sse, kms := c.sse()
	out, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(c.cfg.Bucket),
		Key:                  aws.String(key),
		StorageClass:         types.StorageClass(c.cfg.StorageClass),
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		ChecksumAlgorithm:    c.checksumAlgorithm(),
		RequestPayer:         c.requestPayer(),
		ExpectedBucketOwner:  c.owner(),
	})
	if err != nil {
		return "", c.wrap("CreateMultipartUpload", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart implements objstore.Client. An unknown (completed, aborted or
// expired) upload is NoSuchUpload, reported as ErrNotFound.
func (c *Client) UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte) (objstore.Part, error) {
	out, err := c.s3.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(key),
		UploadId:            aws.String(uploadID),
		PartNumber:          aws.Int32(number),
		Body:                bytes.NewReader(body),
		ContentLength:       aws.Int64(int64(len(body))),
		ChecksumAlgorithm:   c.checksumAlgorithm(),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	})
	if err != nil {
		return objstore.Part{}, c.wrap("UploadPart", key, err)
	}
	return objstore.Part{
		Number:         number,
		ETag:           aws.ToString(out.ETag),
		ChecksumCRC32C: aws.ToString(out.ChecksumCRC32C),
		Size:           int64(len(body)),
	}, nil
}

// CompleteMultipartUpload implements objstore.Client. S3 may answer 200 and
// still fail the completion in the response body; the SDK turns that into an
// error, which is mapped like any other.
func (c *Client) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []objstore.Part) (objstore.PutOutput, error) {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
		if c.checksums && p.ChecksumCRC32C != "" {
			completed[i].ChecksumCRC32C = aws.String(p.ChecksumCRC32C)
		}
	}
	out, err := c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(key),
		UploadId:            aws.String(uploadID),
		MultipartUpload:     &types.CompletedMultipartUpload{Parts: completed},
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	})
	if err != nil {
		return objstore.PutOutput{}, c.wrap("CompleteMultipartUpload", key, err)
	}
	return objstore.PutOutput{ETag: aws.ToString(out.ETag)}, nil
}

// AbortMultipartUpload implements objstore.Client.
func (c *Client) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	ctx, cancel := c.small(ctx)
	defer cancel()
	_, err := c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(key),
		UploadId:            aws.String(uploadID),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	})
	return c.wrap("AbortMultipartUpload", key, err)
}
