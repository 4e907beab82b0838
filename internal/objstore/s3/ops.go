package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// CheckBucket implements objstore.Client. It lists at most one key rather than
// calling HeadBucket: a HEAD response has no body, so some servers report a
// missing bucket as a bare 404 that cannot be told apart from other failures.
// The probe has its own short timeout and few retries so that an unreachable
// endpoint fails a mount in seconds.
func (c *Client) CheckBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:              aws.String(c.cfg.Bucket),
		MaxKeys:             aws.Int32(1),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	}, func(o *s3.Options) { o.RetryMaxAttempts = probeAttempts })
	if err == nil {
		return nil
	}
	e := c.wrap("ListObjectsV2", "", err).(*Error)
	if e.Kind == objstore.ErrNotFound {
		e.Kind = objstore.ErrNoSuchBucket // a bucket-level 404 without a code
	}
	c.logger.Debug("bucket probe failed", "bucket", c.cfg.Bucket, "err", e)
	return e
}

// Head implements objstore.Client.
func (c *Client) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	return c.head(ctx, key, "")
}

func (c *Client) head(ctx context.Context, key, ifMatch string) (objstore.ObjectInfo, error) {
	ctx, cancel := c.small(ctx)
	defer cancel()
	in := &s3.HeadObjectInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(key),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := c.s3.HeadObject(ctx, in)
	if err != nil {
		return objstore.ObjectInfo{}, c.wrap("HEAD", key, err)
	}
	return objstore.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		StorageClass: string(out.StorageClass),
		Metadata:     out.Metadata, // the SDK lower-cases the names
	}, nil
}

// List implements objstore.Client (ListObjectsV2).
func (c *Client) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	ctx, cancel := c.small(ctx)
	defer cancel()
	req := &s3.ListObjectsV2Input{
		Bucket: aws.String(c.cfg.Bucket),
		// Keys may hold characters XML 1.0 cannot represent (e.g. control
		// characters); with encoding-type=url the server escapes them.
		EncodingType:        types.EncodingTypeUrl,
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	}
	if in.Prefix != "" {
		req.Prefix = aws.String(in.Prefix)
	}
	if in.Delimiter != "" {
		req.Delimiter = aws.String(in.Delimiter)
	}
	if in.ContinuationToken != "" {
		req.ContinuationToken = aws.String(in.ContinuationToken)
	}
	if in.StartAfter != "" {
		req.StartAfter = aws.String(in.StartAfter)
	}
	if in.MaxKeys > 0 {
		req.MaxKeys = aws.Int32(int32(min(in.MaxKeys, 1000)))
	}
	out, err := c.s3.ListObjectsV2(ctx, req)
	if err != nil {
		return objstore.ListOutput{}, c.wrap("ListObjectsV2", in.Prefix, err)
	}
	// Only decode when the server says it encoded: one that ignores the
	// parameter returns raw keys, which may legitimately contain '%' and '+'.
	decode := func(s *string) (string, error) { return aws.ToString(s), nil }
	if out.EncodingType == types.EncodingTypeUrl {
		decode = func(s *string) (string, error) { return url.QueryUnescape(aws.ToString(s)) }
	}
	var res objstore.ListOutput
	for _, o := range out.Contents {
		key, err := decode(o.Key)
		if err != nil {
			return objstore.ListOutput{}, c.wrap("ListObjectsV2", in.Prefix, fmt.Errorf("undecodable key %q: %w", aws.ToString(o.Key), err))
		}
		res.Objects = append(res.Objects, objstore.ObjectInfo{
			Key:          key,
			Size:         aws.ToInt64(o.Size),
			ETag:         aws.ToString(o.ETag),
			LastModified: aws.ToTime(o.LastModified),
			StorageClass: string(o.StorageClass),
		})
	}
	for _, p := range out.CommonPrefixes {
		prefix, err := decode(p.Prefix)
		if err != nil {
			return objstore.ListOutput{}, c.wrap("ListObjectsV2", in.Prefix, fmt.Errorf("undecodable prefix %q: %w", aws.ToString(p.Prefix), err))
		}
		res.CommonPrefixes = append(res.CommonPrefixes, prefix)
	}
	if aws.ToBool(out.IsTruncated) {
		res.NextContinuationToken = aws.ToString(out.NextContinuationToken)
		if res.NextContinuationToken == "" {
			// Looping on an empty token would restart the listing forever.
			return objstore.ListOutput{}, c.wrap("ListObjectsV2", in.Prefix, errors.New("truncated listing without a continuation token"))
		}
	}
	return res, nil
}

// Get implements objstore.Client.
func (c *Client) Get(ctx context.Context, in objstore.GetInput) (*objstore.GetOutput, error) {
	if in.Offset < 0 {
		return nil, &Error{Op: "GET", Bucket: c.cfg.Bucket, Key: in.Key, Kind: objstore.ErrInvalidRange,
			Err: fmt.Errorf("negative offset %d", in.Offset)}
	}
	if in.Length == 0 {
		// HTTP cannot ask for zero bytes ("bytes=5-4" is ignored as invalid
		// and returns the whole object); HEAD answers the same question.
		return c.getEmpty(ctx, in, nil)
	}
	req := &s3.GetObjectInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(in.Key),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	}
	if in.IfMatch != "" {
		req.IfMatch = aws.String(in.IfMatch)
	}
	// No Range header for a whole-object read: S3 answers "bytes=0-" on an
	// empty object with 416.
	if in.Length > 0 {
		req.Range = aws.String(fmt.Sprintf("bytes=%d-%d", in.Offset, in.Offset+in.Length-1))
	} else if in.Offset > 0 {
		req.Range = aws.String(fmt.Sprintf("bytes=%d-", in.Offset))
	}
	out, err := c.s3.GetObject(ctx, req)
	if err != nil {
		werr := c.wrap("GET", in.Key, err)
		if in.Offset == 0 && errors.Is(werr, objstore.ErrInvalidRange) {
			// "bytes=0-N" on an empty object: unsatisfiable for S3, but an
			// empty object read from 0 is simply empty.
			return c.getEmpty(ctx, in, werr)
		}
		return nil, werr
	}
	res := &objstore.GetOutput{
		Body: out.Body,
		Info: objstore.ObjectInfo{
			Key:          in.Key,
			ETag:         aws.ToString(out.ETag),
			LastModified: aws.ToTime(out.LastModified),
			StorageClass: string(out.StorageClass),
			Metadata:     out.Metadata,
		},
	}
	length := aws.ToInt64(out.ContentLength)
	if cr := aws.ToString(out.ContentRange); cr != "" {
		start, end, size, err := parseContentRange(cr)
		if err != nil {
			out.Body.Close()
			return nil, c.wrap("GET", in.Key, err)
		}
		res.Offset, res.Length, res.Info.Size = start, end-start+1, size // size -1: "bytes a-b/*", total unknown
		return res, nil
	}
	// A 200 without Content-Range is the whole object: either we sent no
	// Range, or the server ignored it. Trim it to what was asked.
	res.Length, res.Info.Size = length, length
	if in.Offset > 0 || (in.Length > 0 && in.Length < length) {
		if in.Offset >= length {
			out.Body.Close()
			return nil, &Error{Op: "GET", Bucket: c.cfg.Bucket, Key: in.Key, Kind: objstore.ErrInvalidRange,
				Err: fmt.Errorf("offset %d of %d bytes", in.Offset, length)}
		}
		if _, err := io.CopyN(io.Discard, out.Body, in.Offset); err != nil {
			out.Body.Close()
			return nil, c.wrap("GET", in.Key, err)
		}
		n := length - in.Offset
		if in.Length > 0 && in.Length < n {
			n = in.Length
		}
		res.Offset, res.Length = in.Offset, n
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(out.Body, n), out.Body}
	}
	return res, nil
}

// getEmpty serves a read that returns no bytes, using HEAD for the object's
// metadata and If-Match. When fallback is non-nil (a 416 at offset 0), it is
// returned unless the object turns out to be empty.
func (c *Client) getEmpty(ctx context.Context, in objstore.GetInput, fallback error) (*objstore.GetOutput, error) {
	info, err := c.head(ctx, in.Key, in.IfMatch)
	if err != nil {
		return nil, err
	}
	if fallback != nil && info.Size != 0 {
		return nil, fallback
	}
	if in.Offset > info.Size {
		return nil, &Error{Op: "GET", Bucket: c.cfg.Bucket, Key: in.Key, Kind: objstore.ErrInvalidRange,
			Err: fmt.Errorf("offset %d of %d bytes", in.Offset, info.Size)}
	}
	return &objstore.GetOutput{Body: io.NopCloser(bytes.NewReader(nil)), Offset: in.Offset, Info: info}, nil
}

// parseContentRange parses "bytes START-END/TOTAL"; TOTAL "*" gives size -1.
func parseContentRange(s string) (start, end, size int64, err error) {
	bad := fmt.Errorf("malformed Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
		return 0, 0, 0, bad
	}
	size = -1
	if total != "*" {
		if size, err = strconv.ParseInt(total, 10, 64); err != nil || size <= end {
			return 0, 0, 0, bad
		}
	}
	return start, end, size, nil
}

// Put implements objstore.Client.
func (c *Client) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	sse, kms := c.sse()
	req := &s3.PutObjectInput{
		Bucket:               aws.String(c.cfg.Bucket),
		Key:                  aws.String(in.Key),
		Body:                 bytes.NewReader(in.Body),
		ContentLength:        aws.Int64(int64(len(in.Body))),
		StorageClass:         types.StorageClass(c.cfg.StorageClass),
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		ChecksumAlgorithm:    c.checksumAlgorithm(),
		ChecksumCRC32C:       c.givenChecksum(in.ChecksumCRC32C),
		Metadata:             in.Metadata,
		RequestPayer:         c.requestPayer(),
		ExpectedBucketOwner:  c.owner(),
	}
	if in.IfNoneMatch {
		req.IfNoneMatch = aws.String("*")
	}
	if in.IfMatch != "" {
		req.IfMatch = aws.String(in.IfMatch)
	}
	out, err := c.s3.PutObject(ctx, req, c.uploadPayloadOptions()...)
	if err != nil {
		return objstore.PutOutput{}, c.wrap("PUT", in.Key, err)
	}
	return objstore.PutOutput{ETag: aws.ToString(out.ETag)}, nil
}

// Delete implements objstore.Client. S3 answers 204 whether or not the key
// existed; a server that answers 404 instead is treated the same.
func (c *Client) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.small(ctx)
	defer cancel()
	_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:              aws.String(c.cfg.Bucket),
		Key:                 aws.String(key),
		RequestPayer:        c.requestPayer(),
		ExpectedBucketOwner: c.owner(),
	})
	if err = c.wrap("DELETE", key, err); errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	return err
}
