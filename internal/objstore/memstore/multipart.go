package memstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// CreateMultipartUpload implements objstore.Client. The object does not exist
// (or keeps its previous content) until CompleteMultipartUpload; it gets the
// metadata given here.
func (s *Store) CreateMultipartUpload(ctx context.Context, in objstore.CreateMultipartInput) (string, error) {
	if err := s.begin(ctx, OpCreateMultipartUpload); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	s.gen++
	id := "upload-" + strconv.FormatUint(s.gen, 10)
	s.uploads[id] = &upload{key: in.Key, parts: make(map[int32]part), meta: lowerKeys(in.Metadata),
		copyParts: in.CopyParts, initiated: s.now().UTC()}
	return id, nil
}

// lookupUploadLocked finds an upload by ID and checks it belongs to key. S3
// answers NoSuchUpload (404) for unknown, completed and aborted uploads.
func (s *Store) lookupUploadLocked(op, key, uploadID string) (*upload, error) {
	u, ok := s.uploads[uploadID]
	if !ok || u.key != key {
		return nil, fmt.Errorf("%s %q: NoSuchUpload %q: %w", op, key, uploadID, objstore.ErrNotFound)
	}
	return u, nil
}

// UploadPart implements objstore.Client. Re-uploading a part number replaces it.
func (s *Store) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	if err := s.begin(ctx, OpUploadPart); err != nil {
		return objstore.Part{}, err
	}
	defer s.mu.Unlock()
	u, err := s.lookupUploadLocked(OpUploadPart, in.Key, in.UploadID)
	if err != nil {
		return objstore.Part{}, err
	}
	if in.Number < 1 || in.Number > objstore.MaxParts {
		return objstore.Part{}, fmt.Errorf("UploadPart %q: part number %d outside 1..%d", in.Key, in.Number, objstore.MaxParts)
	}
	crc, err := checkCRC32C(OpUploadPart, in.Key, in.Body, in.ChecksumCRC32C)
	if err != nil {
		return objstore.Part{}, err
	}
	sum := md5.Sum(in.Body)
	p := part{
		data: append([]byte(nil), in.Body...),
		etag: `"` + hex.EncodeToString(sum[:]) + `"`,
		crc:  crc,
	}
	u.parts[in.Number] = p
	return objstore.Part{Number: in.Number, ETag: p.etag, ChecksumCRC32C: p.crc, Size: int64(len(in.Body))}, nil
}

// checkCRC32C returns body's CRC32C, in S3's spelling, and fails as S3 does
// (BadDigest) when the client sent one that does not match.
func checkCRC32C(op, key string, body []byte, sent string) (string, error) {
	crc := objstore.CRC32C(crc32.Checksum(body, crc32c))
	if sent != "" && sent != crc {
		return "", fmt.Errorf("%s %q: BadDigest: the CRC32C sent (%s) is not the body's (%s)", op, key, sent, crc)
	}
	return crc, nil
}

// CompleteMultipartUpload implements objstore.Client. Like S3 it requires at
// least one part, strictly ascending part numbers, ETags matching the uploaded
// parts, and every part but the last to be at least the minimum part size.
// As in MinIO, the part list's order is checked first, then the conditions
// on the key (before the upload ID: a failed condition is 412 even for an
// unknown upload), then the parts; a failure leaves the upload pending.
func (s *Store) CompleteMultipartUpload(ctx context.Context, in objstore.CompleteInput) (objstore.PutOutput, error) {
	if err := s.begin(ctx, OpCompleteMultipartUpload); err != nil {
		return objstore.PutOutput{}, err
	}
	defer s.mu.Unlock()
	key, parts := in.Key, in.Parts
	if len(parts) == 0 {
		return objstore.PutOutput{}, fmt.Errorf("CompleteMultipartUpload %q: MalformedXML: no parts", key)
	}
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return objstore.PutOutput{}, fmt.Errorf("CompleteMultipartUpload %q: InvalidPartOrder: part %d after %d", key, p.Number, parts[i-1].Number)
		}
	}
	if err := s.checkWriteLocked(OpCompleteMultipartUpload, key, in.IfMatch, in.IfNoneMatch); err != nil {
		return objstore.PutOutput{}, err
	}
	u, err := s.lookupUploadLocked(OpCompleteMultipartUpload, key, in.UploadID)
	if err != nil {
		return objstore.PutOutput{}, err
	}
	var data []byte
	for i, p := range parts {
		up, ok := u.parts[p.Number]
		if !ok || up.etag != p.ETag {
			return objstore.PutOutput{}, fmt.Errorf("CompleteMultipartUpload %q: InvalidPart: part %d etag %s", key, p.Number, p.ETag)
		}
		if p.ChecksumCRC32C != "" && p.ChecksumCRC32C != up.crc {
			return objstore.PutOutput{}, fmt.Errorf("CompleteMultipartUpload %q: InvalidPart: part %d checksum mismatch", key, p.Number)
		}
		if i < len(parts)-1 && int64(len(up.data)) < s.minPartSize {
			return objstore.PutOutput{}, fmt.Errorf("CompleteMultipartUpload %q: EntityTooSmall: part %d is %d bytes, minimum %d",
				key, p.Number, len(up.data), s.minPartSize)
		}
		data = append(data, up.data...)
	}
	delete(s.uploads, in.UploadID)
	o := s.storeLocked(key, data, "-"+strconv.Itoa(len(parts)), u.meta)
	return objstore.PutOutput{ETag: o.etag}, nil
}

// AbortMultipartUpload implements objstore.Client. Aborting an unknown upload
// is ErrNotFound (S3's NoSuchUpload).
func (s *Store) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if err := s.begin(ctx, OpAbortMultipartUpload); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, err := s.lookupUploadLocked(OpAbortMultipartUpload, key, uploadID); err != nil {
		return err
	}
	delete(s.uploads, uploadID)
	return nil
}
