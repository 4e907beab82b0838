// Package memstore is an in-memory objstore.Client for unit tests.
//
// It imitates the S3 behaviour the file system depends on, and nothing more:
//
//   - Keys are arbitrary strings. Unlike real S3 or MinIO, memstore accepts keys
//     such as "a/./b", "a//b", "/a" or both "a" and "a/b" at once; the file
//     system must cope with such keys in buckets written by other tools, and
//     those cases are tested here because real servers refuse to create some of them.
//   - ListObjectsV2 orders keys byte-wise (Go string order, which is what S3
//     does with UTF-8 keys), rolls keys up into CommonPrefixes at the first
//     Delimiter after Prefix, and counts objects and prefixes together against
//     MaxKeys. Continuation tokens are opaque and remember whether the page ended
//     on a key or on a common prefix, so that a prefix is never returned twice and
//     the keys beneath it are never returned as objects on the next page.
//   - Every PUT and Complete produces a new ETag, even when the content is
//     unchanged (real S3 returns the same MD5 ETag for identical content).
//     Tests that pin reads to an ETag can thus detect any overwrite.
//   - CopyObject gives the ETag MinIO gives, the MD5 of the content: a copy of
//     a single-part object keeps the source's ETag (onto itself too, where it
//     changes the metadata only), a copy of a multipart object gets the
//     content's MD5, without "-N". A copy onto itself that keeps the metadata
//     is refused (InvalidRequest, no sentinel); a missing source is
//     ErrNotFound, another CopySourceIfMatch ErrPreconditionFailed. There is
//     no destination condition (MinIO ignores them on CopyObject).
//   - User metadata is stored with each object under lower-case names, and
//     returned by Head and Get (not List); a PUT or an upload replaces it; a
//     copy keeps it unless told to replace it.
//   - PUT and Complete conditions: If-Match of another ETag and If-None-Match
//     on an existing key are ErrPreconditionFailed, If-Match on a missing key
//     is ErrNotFound (MinIO's 404 NoSuchKey). Complete checks them before the
//     upload ID and leaves the upload pending when they fail.
//   - UploadPartCopy checks the part number, the source (ErrNotFound,
//     ErrPreconditionFailed), the range (starting at or past the end:
//     ErrInvalidRange; ending past it: no sentinel), then the upload; like
//     MinIO with CRC32C checksums on, it refuses a copy into an upload not
//     created with CopyParts. The part's ETag is the MD5 of the range, and it
//     has no checksum.
//   - ListMultipartUploads matches the prefix as S3 does (MinIO matches a
//     non-empty prefix as a whole key only; the conformance suite checks
//     whole keys).
//   - Ranged GETs clamp the end to the object size; an offset beyond the end is
//     ErrInvalidRange (416), except that an empty object may be read from offset 0.
//   - Multipart uploads become visible only on Complete; all parts but the last
//     must be at least MinPartSize (S3's EntityTooSmall), see SetMinPartSize.
//
// Every call is counted per operation (Count) so tests can assert how many
// requests the file system made.
package memstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Operation names used by Count (and by objstoretest.Faulty).
const (
	OpCheckBucket             = "CheckBucket"
	OpHead                    = "Head"
	OpList                    = "List"
	OpGet                     = "Get"
	OpPut                     = "Put"
	OpDelete                  = "Delete"
	OpCreateMultipartUpload   = "CreateMultipartUpload"
	OpUploadPart              = "UploadPart"
	OpCompleteMultipartUpload = "CompleteMultipartUpload"
	OpAbortMultipartUpload    = "AbortMultipartUpload"
	OpCopyObject              = "CopyObject"
	OpUploadPartCopy          = "UploadPartCopy"
	OpListMultipartUploads    = "ListMultipartUploads"
)

// defaultMaxKeys is S3's default and maximum page size for ListObjectsV2.
const defaultMaxKeys = 1000

var crc32c = crc32.MakeTable(crc32.Castagnoli)

type object struct {
	data      []byte // never mutated after it is stored; a write replaces the slice
	etag      string
	modTime   time.Time
	meta      map[string]string // never mutated after it is stored; lower-case names
	multipart bool              // completed from parts (its ETag has a "-N" suffix)
}

type part struct {
	data []byte
	etag string
	crc  string
}

type upload struct {
	key       string
	parts     map[int32]part
	meta      map[string]string
	copyParts bool
	initiated time.Time
}

// Store is an in-memory bucket. The zero value is not usable; call New.
type Store struct {
	bucket string

	mu            sync.Mutex
	objects       map[string]*object // GUARDED_BY(mu)
	uploads       map[string]*upload // GUARDED_BY(mu)
	counts        map[string]int     // GUARDED_BY(mu)
	gen           uint64             // GUARDED_BY(mu); bumped on every write, mixed into ETags
	missingBucket bool               // GUARDED_BY(mu)
	minPartSize   int64              // GUARDED_BY(mu)
	now           func() time.Time
}

var _ objstore.Client = (*Store)(nil)

// Option configures a Store in New.
type Option func(*Store)

// WithMissingBucket makes the store behave as if the bucket did not exist:
// every operation, CheckBucket included, fails with ErrNoSuchBucket.
func WithMissingBucket() Option { return func(s *Store) { s.missingBucket = true } }

// WithMinPartSize overrides the minimum size of non-final multipart parts
// (default objstore.MinPartSize); 0 disables the check.
func WithMinPartSize(n int64) Option { return func(s *Store) { s.minPartSize = n } }

// WithClock sets the clock used for LastModified (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store for the named bucket.
func New(bucket string, opts ...Option) *Store {
	s := &Store{
		bucket:      bucket,
		objects:     make(map[string]*object),
		uploads:     make(map[string]*upload),
		counts:      make(map[string]int),
		minPartSize: objstore.MinPartSize,
		now:         time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetMissingBucket switches the "bucket does not exist" behaviour on or off.
func (s *Store) SetMissingBucket(missing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missingBucket = missing
}

// SetMinPartSize changes the minimum size of non-final multipart parts; 0 disables the check.
func (s *Store) SetMinPartSize(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minPartSize = n
}

// PutObject seeds an object without counting a request.
func (s *Store) PutObject(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeLocked(key, bytes.Clone(data), "", nil)
}

// Object returns a copy of the object's content.
func (s *Store) Object(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(o.data), true
}

// Metadata returns a copy of the object's user metadata (nil when it has
// none), with the lower-case names Head and Get return.
func (s *Store) Metadata(key string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, false
	}
	return maps.Clone(o.meta), true
}

// Keys returns all keys in byte-wise order.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedKeysLocked()
}

// PendingUploads is the number of multipart uploads created but neither
// completed nor aborted.
func (s *Store) PendingUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// Count returns how many times op (e.g. "Get", see the Op constants) was called.
func (s *Store) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// ResetCounts sets every counter back to zero.
func (s *Store) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// Bucket implements objstore.Client.
func (s *Store) Bucket() string { return s.bucket }

// begin counts op and performs the checks common to every request. It returns
// with s.mu held when err is nil.
func (s *Store) begin(ctx context.Context, op string) error {
	s.mu.Lock()
	s.counts[op]++
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.missingBucket {
		s.mu.Unlock()
		return fmt.Errorf("%s on bucket %q: %w", op, s.bucket, objstore.ErrNoSuchBucket)
	}
	return nil
}

// CheckBucket implements objstore.Client.
func (s *Store) CheckBucket(ctx context.Context) error {
	if err := s.begin(ctx, OpCheckBucket); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Head implements objstore.Client.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.begin(ctx, OpHead); err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return objstore.ObjectInfo{}, fmt.Errorf("HEAD %q: %w", key, objstore.ErrNotFound)
	}
	return info(key, o), nil
}

// Get implements objstore.Client.
func (s *Store) Get(ctx context.Context, in objstore.GetInput) (*objstore.GetOutput, error) {
	if err := s.begin(ctx, OpGet); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	o, ok := s.objects[in.Key]
	if !ok {
		return nil, fmt.Errorf("GET %q: %w", in.Key, objstore.ErrNotFound)
	}
	// S3 evaluates If-Match before the range.
	if in.IfMatch != "" && in.IfMatch != o.etag {
		return nil, fmt.Errorf("GET %q if-match %s (now %s): %w", in.Key, in.IfMatch, o.etag, objstore.ErrPreconditionFailed)
	}
	size := int64(len(o.data))
	// A range starting at the end of a non-empty object is unsatisfiable (416),
	// but an empty object read from 0 returns an empty body. A zero-length
	// request is satisfiable anywhere up to the end.
	if in.Offset < 0 || in.Offset > size || (in.Offset == size && size > 0 && in.Length != 0) {
		return nil, fmt.Errorf("GET %q offset %d of %d bytes: %w", in.Key, in.Offset, size, objstore.ErrInvalidRange)
	}
	end := size
	if in.Length >= 0 && in.Offset+in.Length < size {
		end = in.Offset + in.Length
	}
	return &objstore.GetOutput{
		Body:   io.NopCloser(bytes.NewReader(o.data[in.Offset:end])),
		Offset: in.Offset,
		Length: end - in.Offset,
		Info:   info(in.Key, o),
	}, nil
}

// Put implements objstore.Client.
func (s *Store) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	if err := s.begin(ctx, OpPut); err != nil {
		return objstore.PutOutput{}, err
	}
	defer s.mu.Unlock()
	if err := s.checkWriteLocked("PUT", in.Key, in.IfMatch, in.IfNoneMatch); err != nil {
		return objstore.PutOutput{}, err
	}
	if _, err := checkCRC32C(OpPut, in.Key, in.Body, in.ChecksumCRC32C); err != nil {
		return objstore.PutOutput{}, err
	}
	o := s.storeLocked(in.Key, bytes.Clone(in.Body), "", lowerKeys(in.Metadata))
	return objstore.PutOutput{ETag: o.etag}, nil
}

// Delete implements objstore.Client. Deleting a missing key succeeds, as in S3.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, OpDelete); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

// checkWriteLocked evaluates a write's conditions on key as S3 does: If-Match
// on a missing key is 404 NoSuchKey, on another ETag 412; If-None-Match on
// an existing key 412.
func (s *Store) checkWriteLocked(op, key, ifMatch string, ifNoneMatch bool) error {
	o, exists := s.objects[key]
	if ifNoneMatch && exists {
		return fmt.Errorf("%s %q if-none-match: %w", op, key, objstore.ErrPreconditionFailed)
	}
	if ifMatch != "" {
		if !exists {
			return fmt.Errorf("%s %q if-match %s: NoSuchKey: %w", op, key, ifMatch, objstore.ErrNotFound)
		}
		if o.etag != ifMatch {
			return fmt.Errorf("%s %q if-match %s (now %s): %w", op, key, ifMatch, o.etag, objstore.ErrPreconditionFailed)
		}
	}
	return nil
}

// lowerKeys returns meta with lower-case names, as S3 returns them (HTTP
// header names are case-insensitive); nil when meta is empty.
func lowerKeys(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		out[strings.ToLower(k)] = v
	}
	return out
}

// storeLocked stores data under key with a fresh ETag and the given
// metadata (not copied: the caller hands it over). suffix is "" for a
// single PUT and "-N" for a multipart upload of N parts.
func (s *Store) storeLocked(key string, data []byte, suffix string, meta map[string]string) *object {
	s.gen++
	h := md5.New()
	h.Write(data)
	// Mix a generation number into the hash so that rewriting identical content
	// still changes the ETag.
	h.Write(binary.BigEndian.AppendUint64(nil, s.gen))
	o := &object{
		data:      data,
		etag:      `"` + hex.EncodeToString(h.Sum(nil)) + suffix + `"`,
		modTime:   s.now().UTC().Truncate(time.Second),
		meta:      meta,
		multipart: suffix != "",
	}
	s.objects[key] = o
	return o
}

func (s *Store) sortedKeysLocked() []string {
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys) // byte-wise, like S3
	return keys
}

// info describes o as HEAD and GET do; List drops the metadata.
func info(key string, o *object) objstore.ObjectInfo {
	return objstore.ObjectInfo{
		Key:          key,
		Size:         int64(len(o.data)),
		ETag:         o.etag,
		LastModified: o.modTime,
		StorageClass: "STANDARD",
		Metadata:     maps.Clone(o.meta),
	}
}

// List implements objstore.Client (ListObjectsV2).
func (s *Store) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	if err := s.begin(ctx, OpList); err != nil {
		return objstore.ListOutput{}, err
	}
	defer s.mu.Unlock()

	// The marker is the last entry already returned (or StartAfter); keys at or
	// before it are skipped. When the previous page ended on a common prefix,
	// every key under that prefix is skipped too: all of them sort after the
	// prefix itself but were already represented by it.
	marker, markerIsPrefix := in.StartAfter, false
	if in.ContinuationToken != "" {
		var err error
		marker, markerIsPrefix, err = decodeToken(in.ContinuationToken)
		if err != nil {
			return objstore.ListOutput{}, fmt.Errorf("LIST %q: invalid continuation token: %w", in.Prefix, err)
		}
	}
	maxKeys := in.MaxKeys
	if maxKeys <= 0 || maxKeys > defaultMaxKeys {
		maxKeys = defaultMaxKeys
	}

	var out objstore.ListOutput
	n := 0
	keys := s.sortedKeysLocked()
	start, _ := slices.BinarySearch(keys, in.Prefix)
	for _, key := range keys[start:] {
		if !strings.HasPrefix(key, in.Prefix) {
			break // sorted: no later key has the prefix either
		}
		if key <= marker || (markerIsPrefix && strings.HasPrefix(key, marker)) {
			continue
		}
		cp := ""
		if in.Delimiter != "" {
			if i := strings.Index(key[len(in.Prefix):], in.Delimiter); i >= 0 {
				cp = key[:len(in.Prefix)+i+len(in.Delimiter)]
			}
		}
		if n == maxKeys {
			// There is at least one more entry: the page is truncated.
			out.NextContinuationToken = encodeToken(marker, markerIsPrefix)
			break
		}
		n++
		if cp != "" {
			out.CommonPrefixes = append(out.CommonPrefixes, cp)
			marker, markerIsPrefix = cp, true // later keys under cp are skipped above
		} else {
			oi := info(key, s.objects[key])
			oi.Metadata = nil // ListObjectsV2 does not return it
			out.Objects = append(out.Objects, oi)
			marker, markerIsPrefix = key, false
		}
	}
	return out, nil
}

func encodeToken(marker string, isPrefix bool) string {
	kind := "k"
	if isPrefix {
		kind = "p"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + marker))
}

func decodeToken(tok string) (marker string, isPrefix bool, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || (b[0] != 'k' && b[0] != 'p') {
		return "", false, fmt.Errorf("malformed token %q", tok)
	}
	return string(b[1:]), b[0] == 'p', nil
}
