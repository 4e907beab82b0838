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
	// Metadata is the object's user metadata (the x-amz-meta-* headers),
	// keyed by the lower-case name without the "x-amz-meta-" prefix. Head and
	// Get fill it (nil or empty when the object has none); List entries
	// leave it nil, since ListObjectsV2 does not return it.
	Metadata map[string]string
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
	// IfMatch makes the PUT conditional on the object's current ETag being
	// this one: another ETag is ErrPreconditionFailed, a missing key
	// ErrNotFound (S3 and MinIO answer 404 NoSuchKey).
	IfMatch string
	// Metadata is the new object's user metadata (see ObjectInfo.Metadata):
	// lower-case names without the "x-amz-meta-" prefix. Names and values
	// travel as HTTP headers: keep them to printable US-ASCII.
	Metadata map[string]string
}

// PutOutput is what a completed upload (PUT or multipart) returns.
type PutOutput struct {
	ETag string
}

// CreateMultipartInput starts a multipart upload. The object's metadata is
// fixed here, for the whole upload.
type CreateMultipartInput struct {
	Key      string
	Metadata map[string]string // as in PutInput
	// CopyParts says the upload will hold parts copied with
	// UploadPartCopy. Such an upload is created without a checksum
	// algorithm, even when the client sends CRC32C checksums: MinIO refuses
	// a copied part into an upload that has one (400 InvalidArgument
	// "checksum missing"). Parts sent with UploadPart still carry their
	// CRC32C, which the server checks; copied parts have none, so Complete
	// lists none, and the completed object has no whole-object checksum.
	CopyParts bool
}

// CompleteInput completes a multipart upload with the parts listed, in
// ascending part order. IfMatch and IfNoneMatch are conditions on the key as
// in PutInput (If-Match on a missing key is ErrNotFound): when one fails the
// completion is ErrPreconditionFailed and, on MinIO, the upload is left as it
// was (it can still be completed, with a condition that holds, or aborted).
type CompleteInput struct {
	Key, UploadID string
	Parts         []Part
	IfMatch       string
	IfNoneMatch   bool
}

// CopyInput is a server-side copy of a whole object (CopyObject) from SrcKey
// to Key, in the same bucket. S3 copies at most 5 GiB this way
// (MaxCopyObjectSize); a larger source needs a multipart upload of
// UploadPartCopy parts.
//
// SrcIfMatch pins the source to that ETag (CopySourceIfMatch): another one
// is ErrPreconditionFailed. There is deliberately no condition on the
// destination: MinIO ignores If-Match / If-None-Match on CopyObject and
// overwrites. A conditional server-side copy is a multipart upload whose
// parts are UploadPartCopy ranges, completed with CompleteInput.IfMatch or
// IfNoneMatch.
//
// Without ReplaceMetadata the copy keeps the source's metadata and Metadata
// is ignored; with it the copy has exactly Metadata. A copy onto itself
// (Key == SrcKey) must replace the metadata: S3 and MinIO refuse one that
// changes nothing (400 InvalidRequest, no sentinel). A missing source is
// ErrNotFound.
//
// The copy is a single-part object: on MinIO (and S3 without SSE-KMS) its
// ETag is the MD5 of the content. A copy of a single-part object therefore
// has the source's ETag (also onto itself, where only the metadata
// changes), and a copy of a multipart object a new ETag without "-N", the
// same for every copy of that content.
type CopyInput struct {
	Key             string // destination
	SrcKey          string
	SrcIfMatch      string
	ReplaceMetadata bool
	Metadata        map[string]string
}

// PartCopyInput uploads part Number of a multipart upload as a copy of
// bytes [Offset, Offset+Length) of SrcKey (UploadPartCopy), pinned to
// SrcIfMatch when that is set (ErrPreconditionFailed when the source has
// another ETag). The upload must have been created with CopyParts. Length
// must be at least 1 and, as for UploadPart, every part but the last at
// least MinPartSize; S3 copies at most 5 GiB per part.
//
// Failures: a missing source or upload is ErrNotFound; a range starting at
// or past the source's end ErrInvalidRange (416), one starting inside it
// but ending past it no sentinel (400 InvalidArgument); Length < 1 or
// Offset < 0 ErrInvalidRange, without a request. The part's ETag is the MD5
// of the bytes copied.
type PartCopyInput struct {
	Key, UploadID      string
	Number             int32
	SrcKey, SrcIfMatch string
	Offset, Length     int64
}

// Upload is a multipart upload that was created and neither completed nor
// aborted.
type Upload struct {
	Key, UploadID string
	Initiated     time.Time
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

// Part is one uploaded (or copied) part of a multipart upload: what
// CompleteInput lists.
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

	// CopyObject is a server-side copy; see CopyInput.
	CopyObject(ctx context.Context, in CopyInput) (PutOutput, error)

	CreateMultipartUpload(ctx context.Context, in CreateMultipartInput) (uploadID string, err error)
	UploadPart(ctx context.Context, in PartInput) (Part, error)
	// UploadPartCopy copies a range of an object into a part; the Part it
	// returns has Size = Length, the part's ETag and, when the upload uses
	// CRC32C checksums, its ChecksumCRC32C, as Complete must list them.
	UploadPartCopy(ctx context.Context, in PartCopyInput) (Part, error)
	CompleteMultipartUpload(ctx context.Context, in CompleteInput) (PutOutput, error)
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error
	// ListMultipartUploads returns every pending upload whose key starts
	// with prefix (all pages), by key, then by initiation. MinIO does not
	// match prefixes: a non-empty prefix lists only the uploads of exactly
	// that key, and "" lists the uploads it created since it started (it
	// keeps them in memory). Callers that must work there pass a whole key
	// and keep the uploads whose Key is that key.
	ListMultipartUploads(ctx context.Context, prefix string) ([]Upload, error)
}

// MaxParts is S3's limit on parts per multipart upload.
const MaxParts = 10000

// MinPartSize is S3's minimum size of every part but the last.
const MinPartSize = 5 << 20

// MaxCopyObjectSize is the largest object S3 copies with CopyObject, and the
// largest range one UploadPartCopy copies (5 GiB).
const MaxCopyObjectSize = 5 << 30
