package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// CopyObject implements objstore.Client: a server-side copy within the
// bucket, of at most 5 GiB (S3's limit). The copy is a new object: it gets
// the configured storage class, encryption and, with checksums on, a CRC32C
// the server computes. Without ReplaceMetadata the source's metadata is
// kept (MetadataDirective COPY). No condition is sent on the destination:
// MinIO ignores them on CopyObject.
func (c *Client) CopyObject(ctx context.Context, in objstore.CopyInput) (objstore.PutOutput, error) {
	sse, kms := c.sse()
	req := &s3.CopyObjectInput{
		Bucket:                    aws.String(c.cfg.Bucket),
		Key:                       aws.String(in.Key),
		CopySource:                aws.String(copySource(c.cfg.Bucket, in.SrcKey)),
		MetadataDirective:         types.MetadataDirectiveCopy,
		StorageClass:              types.StorageClass(c.cfg.StorageClass),
		ServerSideEncryption:      sse,
		SSEKMSKeyId:               kms,
		ChecksumAlgorithm:         c.checksumAlgorithm(),
		RequestPayer:              c.requestPayer(),
		ExpectedBucketOwner:       c.owner(),
		ExpectedSourceBucketOwner: c.owner(),
	}
	if in.ReplaceMetadata {
		req.MetadataDirective = types.MetadataDirectiveReplace
		req.Metadata = in.Metadata
	}
	if in.SrcIfMatch != "" {
		req.CopySourceIfMatch = aws.String(in.SrcIfMatch)
	}
	out, err := c.s3.CopyObject(ctx, req)
	if err != nil {
		return objstore.PutOutput{}, c.wrap("CopyObject", in.Key, err)
	}
	if out.CopyObjectResult == nil {
		return objstore.PutOutput{}, c.wrap("CopyObject", in.Key, errors.New("response without a CopyObjectResult"))
	}
	return objstore.PutOutput{ETag: aws.ToString(out.CopyObjectResult.ETag)}, nil
}

// UploadPartCopy implements objstore.Client. The part's checksum is
// computed by the server with the upload's algorithm (UploadPartCopy has no
// checksum parameter of its own) and returned in the CopyPartResult; with
// CRC32C on it is what Complete lists.
func (c *Client) UploadPartCopy(ctx context.Context, in objstore.PartCopyInput) (objstore.Part, error) {
	if in.Offset < 0 || in.Length < 1 {
		return objstore.Part{}, &Error{Op: "UploadPartCopy", Bucket: c.cfg.Bucket, Key: in.Key, Kind: objstore.ErrInvalidRange,
			Err: fmt.Errorf("range of %d bytes at %d of %s", in.Length, in.Offset, in.SrcKey)}
	}
	req := &s3.UploadPartCopyInput{
		Bucket:                    aws.String(c.cfg.Bucket),
		Key:                       aws.String(in.Key),
		UploadId:                  aws.String(in.UploadID),
		PartNumber:                aws.Int32(in.Number),
		CopySource:                aws.String(copySource(c.cfg.Bucket, in.SrcKey)),
		CopySourceRange:           aws.String(fmt.Sprintf("bytes=%d-%d", in.Offset, in.Offset+in.Length-1)),
		RequestPayer:              c.requestPayer(),
		ExpectedBucketOwner:       c.owner(),
		ExpectedSourceBucketOwner: c.owner(),
	}
	if in.SrcIfMatch != "" {
		req.CopySourceIfMatch = aws.String(in.SrcIfMatch)
	}
	out, err := c.s3.UploadPartCopy(ctx, req)
	if err != nil {
		return objstore.Part{}, c.wrap("UploadPartCopy", in.Key, err)
	}
	r := out.CopyPartResult
	if r == nil || aws.ToString(r.ETag) == "" {
		return objstore.Part{}, c.wrap("UploadPartCopy", in.Key, errors.New("response without the part's ETag"))
	}
	return objstore.Part{
		Number:         in.Number,
		ETag:           aws.ToString(r.ETag),
		ChecksumCRC32C: aws.ToString(r.ChecksumCRC32C),
		Size:           in.Length,
	}, nil
}

// ListMultipartUploads implements objstore.Client, following the key and
// upload-ID markers through every page, and returns the uploads by key, then
// by initiation. Keys are URL-encoded by the server (encoding-type=url) and
// decoded here, as in List. MinIO matches a non-empty prefix as a whole key
// (see objstore.Client).
func (c *Client) ListMultipartUploads(ctx context.Context, prefix string) ([]objstore.Upload, error) {
	var (
		uploads               []objstore.Upload
		keyMarker, idMarker   *string
		seenKey, seenUploadID string
	)
	for {
		page, err := c.listUploadsPage(ctx, prefix, keyMarker, idMarker)
		if err != nil {
			return nil, err
		}
		decode := func(s *string) (string, error) { return aws.ToString(s), nil }
		if page.EncodingType == types.EncodingTypeUrl {
			decode = func(s *string) (string, error) { return url.QueryUnescape(aws.ToString(s)) }
		}
		for _, u := range page.Uploads {
			key, err := decode(u.Key)
			if err != nil {
				return nil, c.wrap("ListMultipartUploads", prefix, fmt.Errorf("undecodable key %q: %w", aws.ToString(u.Key), err))
			}
			uploads = append(uploads, objstore.Upload{Key: key, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			sortUploads(uploads)
			return uploads, nil
		}
		// NextKeyMarker is encoded like the keys; the request takes it raw.
		nextKey, err := decode(page.NextKeyMarker)
		if err != nil {
			return nil, c.wrap("ListMultipartUploads", prefix, fmt.Errorf("undecodable key marker %q: %w", aws.ToString(page.NextKeyMarker), err))
		}
		nextID := aws.ToString(page.NextUploadIdMarker)
		if nextKey == "" || (nextKey == seenKey && nextID == seenUploadID) {
			// Looping on the same markers would list the same page forever.
			return nil, c.wrap("ListMultipartUploads", prefix, errors.New("truncated listing without new markers"))
		}
		seenKey, seenUploadID = nextKey, nextID
		keyMarker, idMarker = aws.String(nextKey), aws.String(nextID)
	}
}

// sortUploads orders uploads by key, then by initiation, as S3 lists them;
// MinIO lists a bucket's uploads (empty prefix) by initiation only.
func sortUploads(us []objstore.Upload) {
	slices.SortStableFunc(us, func(a, b objstore.Upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
}

func (c *Client) listUploadsPage(ctx context.Context, prefix string, keyMarker, idMarker *string) (*s3.ListMultipartUploadsOutput, error) {
	ctx, cancel := c.small(ctx)
	defer cancel()
	req := &s3.ListMultipartUploadsInput{
		Bucket:              aws.String(c.cfg.Bucket),
		EncodingType:        types.EncodingTypeUrl,
		KeyMarker:           keyMarker,
		UploadIdMarker:      idMarker,
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	}
	if prefix != "" {
		req.Prefix = aws.String(prefix)
	}
	out, err := c.s3.ListMultipartUploads(ctx, req)
	if err != nil {
		return nil, c.wrap("ListMultipartUploads", prefix, err)
	}
	return out, nil
}

// copySource is the x-amz-copy-source header: "bucket/key", URL-encoded.
// Every byte but the unreserved ones and '/' is percent-encoded, '+' and
// '%' included, so that no server can read the key another way (a '+' left
// alone is a space to a decoder of query strings).
func copySource(bucket, key string) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for _, s := range []string{bucket, "/", key} {
		for i := 0; i < len(s); i++ {
			ch := s[i]
			if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
				ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/' {
				b.WriteByte(ch)
				continue
			}
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
		}
	}
	return b.String()
}
