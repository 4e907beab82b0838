// Package objstore is the seam between the file system and an S3-compatible
// object store. It defines a narrow Client interface with typed requests and a
// small set of sentinel errors; implementations (objstore/s3 for real servers,
// objstore/memstore for tests) translate their native failures into those
// sentinels at their own edge, so callers classify errors with errors.Is only.
//
// The package imports the standard library only.
package objstore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them (fmt.Errorf("...: %w", ErrNotFound))
// so that the message keeps the server's detail while callers use errors.Is.
var (
	// ErrNotFound: the key does not exist (404 NoSuchKey, or a HEAD 404).
	ErrNotFound = errors.New("object not found")
	// ErrNoSuchBucket: the bucket does not exist.
	ErrNoSuchBucket = errors.New("bucket does not exist")
	// ErrAccessDenied: credentials were rejected or lack permission
	// (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, 403).
	ErrAccessDenied = errors.New("access denied")
	// ErrPreconditionFailed: an If-Match / If-None-Match condition did not hold (412),
	// e.g. the object changed since the ETag a reader pinned.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrThrottled: the server asked us to slow down (503 SlowDown, 429) after retries.
	ErrThrottled = errors.New("request throttled")
	// ErrUnreachable: the endpoint could not be reached (DNS, connection refused, TLS, timeout).
	ErrUnreachable = errors.New("endpoint unreachable")
	// ErrInvalidRange: the requested range is not satisfiable (416).
	ErrInvalidRange = errors.New("invalid range")
)

// ObjectInfo describes one object as returned by HEAD, LIST or GET.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // as the server returned it, quotes included
	LastModified time.Time
	StorageClass string
}

// ListInput is one ListObjectsV2 page request.
type ListInput struct {
	Prefix            string
	Delimiter         string // "" for a flat listing, "/" for a directory listing
	ContinuationToken string
	StartAfter        string
	MaxKeys           int // 0 means the server default (1000)
}

// ListOutput is one ListObjectsV2 page. Objects and CommonPrefixes are each in
// lexicographic (byte) order, as S3 returns them.
type ListOutput struct {
	Objects               []ObjectInfo
	CommonPrefixes        []string // full prefixes, ending with the delimiter
	NextContinuationToken string   // "" when this is the last page
}

// GetInput asks for bytes [Offset, Offset+Length) of Key. Length < 0 means to
// the end of the object. IfMatch, when set, pins the read to that ETag: a
// changed object fails with ErrPreconditionFailed instead of returning other bytes.
type GetInput struct {
	Key     string
	Offset  int64
	Length  int64
	IfMatch string
}

// GetOutput is a streaming GET response. Offset/Length describe the range the
// server actually returned and Info.Size the whole object's size; callers must
// check them against what they asked for and read exactly Length bytes.
type GetOutput struct {
	Body   io.ReadCloser
	Offset int64
	Length int64
	Info   ObjectInfo
}

// PutInput uploads a whole object in one request.
type PutInput struct {
	Key  string
	Body []byte
	// ChecksumCRC32C is the body's CRC32C (base64, as CRC32C returns), when
	// the caller computed it while the bytes passed through its hands: a
	// client that sends checksums sends it instead of reading the body again,
	// and the server rejects a body that does not match it. Empty: the client
	// computes what it sends itself.
	ChecksumCRC32C string
	// IfNoneMatch makes the PUT conditional on the key not existing ("If-None-Match: *").
	IfNoneMatch bool
}

// PutOutput is what a completed upload (PUT or multipart) returns.
type PutOutput struct {
	ETag string
}

// PartInput uploads one part of a multipart upload.
type PartInput struct {
	Key, UploadID string
	Number        int32
	Body          []byte
	// ChecksumCRC32C is the body's CRC32C, as in PutInput.
	ChecksumCRC32C string
}

// CRC32C is how S3 spells a CRC32C (Castagnoli) checksum: the four bytes,
// big-endian, in base64.
func CRC32C(sum uint32) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number         int32
	ETag           string
	ChecksumCRC32C string // base64, when the upload uses CRC32C checksums
	Size           int64
}

// Client is the narrow interface the file system uses. All methods are safe for
// concurrent use. Keys are full keys in the bucket (any mount prefix included).
type Client interface {
	// Bucket names the bucket this client talks to.
	Bucket() string
	// CheckBucket verifies that the bucket exists and that the credentials can
	// list it. It is the mount-time probe.
	CheckBucket(ctx context.Context) error
	Head(ctx context.Context, key string) (ObjectInfo, error)
	List(ctx context.Context, in ListInput) (ListOutput, error)
	Get(ctx context.Context, in GetInput) (*GetOutput, error)
	Put(ctx context.Context, in PutInput) (PutOutput, error)
	Delete(ctx context.Context, key string) error

	CreateMultipartUpload(ctx context.Context, key string) (uploadID string, err error)
	UploadPart(ctx context.Context, in PartInput) (Part, error)
	CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []Part) (PutOutput, error)
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error
}

// MaxParts is S3's limit on parts per multipart upload.
const MaxParts = 10000

// MinPartSize is S3's minimum size of every part but the last.
const MinPartSize = 5 << 20
