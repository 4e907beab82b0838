package memstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// CopyObject implements objstore.Client as the pinned MinIO does: a missing
// source is ErrNotFound, another SrcIfMatch ErrPreconditionFailed, a copy
// onto itself that keeps the metadata is refused (InvalidRequest, no
// sentinel). The copy's ETag is the MD5 of its content, as a single PUT
// of it would have: the source's own ETag for a single-part source (even
// onto itself), a new one without "-N" for a multipart source. It is the
// one memstore write whose ETag does not change with every write.
func (s *Store) CopyObject(ctx context.Context, in objstore.CopyInput) (objstore.PutOutput, error) {
	if err := s.begin(ctx, OpCopyObject); err != nil {
		return objstore.PutOutput{}, err
	}
	defer s.mu.Unlock()
	src, err := s.copySourceLocked(OpCopyObject, in.Key, in.SrcKey, in.SrcIfMatch)
	if err != nil {
		return objstore.PutOutput{}, err
	}
	if in.Key == in.SrcKey && !in.ReplaceMetadata {
		return objstore.PutOutput{}, fmt.Errorf("CopyObject %q onto itself: InvalidRequest: the copy changes nothing", in.Key)
	}
	if int64(len(src.data)) > objstore.MaxCopyObjectSize {
		return objstore.PutOutput{}, fmt.Errorf("CopyObject %q: InvalidRequest: source of %d bytes is larger than %d",
			in.Key, len(src.data), int64(objstore.MaxCopyObjectSize))
	}
	etag := src.etag
	if src.multipart {
		sum := md5.Sum(src.data)
		etag = `"` + hex.EncodeToString(sum[:]) + `"`
	}
	meta := maps.Clone(src.meta)
	if in.ReplaceMetadata {
		meta = lowerKeys(in.Metadata)
	}
	s.objects[in.Key] = &object{
		data:    src.data, // never mutated: shared
		etag:    etag,
		modTime: s.now().UTC().Truncate(time.Second),
		meta:    meta,
	}
	return objstore.PutOutput{ETag: etag}, nil
}

// copySourceLocked finds the source of a copy and checks CopySourceIfMatch.
func (s *Store) copySourceLocked(op, key, srcKey, srcIfMatch string) (*object, error) {
	src, ok := s.objects[srcKey]
	if !ok {
		return nil, fmt.Errorf("%s %q from %q: NoSuchKey: %w", op, key, srcKey, objstore.ErrNotFound)
	}
	if srcIfMatch != "" && srcIfMatch != src.etag {
		return nil, fmt.Errorf("%s %q from %q copy-source-if-match %s (now %s): %w",
			op, key, srcKey, srcIfMatch, src.etag, objstore.ErrPreconditionFailed)
	}
	return src, nil
}

// UploadPartCopy implements objstore.Client, checking in MinIO's order: the
// source (ErrNotFound, ErrPreconditionFailed), the range (starting at or
// past the end: ErrInvalidRange; ending past it: InvalidArgument, no
// sentinel), then the upload (ErrNotFound); the part number first of all. Like MinIO with CRC32C checksums
// on (the default), it refuses a copy into an upload not created with
// CopyParts (InvalidArgument "checksum missing", no sentinel). The part's
// ETag is the MD5 of the range; it has no checksum, as in MinIO.
func (s *Store) UploadPartCopy(ctx context.Context, in objstore.PartCopyInput) (objstore.Part, error) {
	if err := s.begin(ctx, OpUploadPartCopy); err != nil {
		return objstore.Part{}, err
	}
	defer s.mu.Unlock()
	if in.Offset < 0 || in.Length < 1 {
		// The s3 client refuses these without a request.
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: range of %d bytes at %d: %w", in.Key, in.Length, in.Offset, objstore.ErrInvalidRange)
	}
	if in.Number < 1 || in.Number > objstore.MaxParts {
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: part number %d outside 1..%d", in.Key, in.Number, objstore.MaxParts)
	}
	src, err := s.copySourceLocked(OpUploadPartCopy, in.Key, in.SrcKey, in.SrcIfMatch)
	if err != nil {
		return objstore.Part{}, err
	}
	size := int64(len(src.data))
	if in.Offset >= size {
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: offset %d of %q's %d bytes: %w", in.Key, in.Offset, in.SrcKey, size, objstore.ErrInvalidRange)
	}
	if in.Length > size-in.Offset {
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: InvalidArgument: %d bytes at %d of %q's %d", in.Key, in.Length, in.Offset, in.SrcKey, size)
	}
	if in.Length > objstore.MaxCopyObjectSize {
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: InvalidArgument: a part copy of %d bytes", in.Key, in.Length)
	}
	u, err := s.lookupUploadLocked(OpUploadPartCopy, in.Key, in.UploadID)
	if err != nil {
		return objstore.Part{}, err
	}
	if !u.copyParts {
		return objstore.Part{}, fmt.Errorf("UploadPartCopy %q: InvalidArgument: checksum missing, want \"CRC32C\" (upload not created with CopyParts)", in.Key)
	}
	data := src.data[in.Offset : in.Offset+in.Length] // never mutated: shared
	sum := md5.Sum(data)
	p := part{data: data, etag: `"` + hex.EncodeToString(sum[:]) + `"`}
	u.parts[in.Number] = p
	return objstore.Part{Number: in.Number, ETag: p.etag, Size: in.Length}, nil
}

// ListMultipartUploads implements objstore.Client: the pending uploads of
// the keys that start with prefix (S3's rule; MinIO matches only the key
// equal to a non-empty prefix), by key, then by initiation.
func (s *Store) ListMultipartUploads(ctx context.Context, prefix string) ([]objstore.Upload, error) {
	if err := s.begin(ctx, OpListMultipartUploads); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []objstore.Upload
	for id, u := range s.uploads {
		if strings.HasPrefix(u.key, prefix) {
			out = append(out, objstore.Upload{Key: u.key, UploadID: id, Initiated: u.initiated})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if !a.Initiated.Equal(b.Initiated) {
			return a.Initiated.Before(b.Initiated)
		}
		return a.UploadID < b.UploadID
	})
	return out, nil
}
