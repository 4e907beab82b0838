package upload

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"

	"github.com/bucketfs/bucketfs/internal/memory"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// ErrConflict reports that a commit's condition failed: the object is not
// the version the edit started from (another writer replaced or deleted
// it, or created it when the file was new here). Nothing was written.
var ErrConflict = errors.New("the object changed since the edit began")

// Source is where a commit reads the bytes it sends: the staged file, which
// fetches clean bytes from the base when they are not local.
type Source interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// CommitInput describes one new version of an object.
type CommitInput struct {
	Key  string // where the new version goes
	Size int64
	// Clean ranges hold the bytes of BaseKey at BaseETag at the same
	// offsets: the commit copies them on the server where they are long
	// enough to be parts, and reads the rest from Data.
	BaseKey, BaseETag string
	BaseSize          int64
	Clean             []stage.Range
	Data              Source
	Metadata          map[string]string // the new version's user metadata, whole

	// The condition on Key: IfMatch an ETag (replace exactly that
	// version) or IfNoneMatch (create; the key must not exist).
	IfMatch     string
	IfNoneMatch bool

	PartSize    int64 // data part size (--write-part-size)
	MinPart     int64 // smallest part but the last; 0: S3's 5 MiB
	MaxInFlight int
	Budget      *memory.Budget
	Log         *slog.Logger
	// Track, when set, is told of a multipart upload being open (and
	// calls back when it is over), so a mount that dies during the commit
	// can have it aborted by the next one.
	Track func(key, uploadID string) (done func())
}

// Commit writes a new version of in.Key, conditionally, and returns its
// ETag. An unchanged object whose metadata changes is one CopyObject onto
// itself (pinned to its ETag); objects of at most one part with nothing to
// copy, and objects smaller than a part can be (MinPart), are one PUT (the
// few clean bytes are read from Data); anything else is a multipart upload whose parts are
// copied (UploadPartCopy, pinned to the base's ETag) or sent, completed with
// the condition. Either the whole new version appears or nothing does: a
// failure aborts the upload. A failed condition, or a base that changed
// under a copy or a fetch, is ErrConflict.
func Commit(ctx context.Context, c objstore.Client, in CommitInput) (objstore.PutOutput, error) {
	ctx = context.WithoutCancel(ctx) // a commit must not be half-cancelled
	if in.MinPart <= 0 {
		in.MinPart = objstore.MinPartSize
	}
	in.PartSize = max(in.PartSize, in.MinPart)
	if in.MaxInFlight < 1 {
		in.MaxInFlight = 1
	}
	if in.Budget == nil {
		in.Budget = memory.NewBudget(1 << 62)
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	if in.BaseKey == "" {
		in.Clean = nil
	}
	parts := plan(in.Size, in.Clean, in.PartSize, in.MinPart)
	copies := 0
	for _, p := range parts {
		if p.Copy {
			copies++
		}
	}
	var (
		out objstore.PutOutput
		err error
	)
	selfCopy := len(parts) == 1 && copies == 1 && in.Key == in.BaseKey && in.IfMatch == in.BaseETag &&
		!in.IfNoneMatch && in.Size == in.BaseSize
	switch {
	case selfCopy:
		out, err = c.CopyObject(ctx, objstore.CopyInput{Key: in.Key, SrcKey: in.BaseKey, SrcIfMatch: in.BaseETag,
			ReplaceMetadata: true, Metadata: in.Metadata})
		if err != nil {
			err = fmt.Errorf("copy object onto itself: %w", err)
		}
	case copies == 0 && in.Size <= in.PartSize, in.Size < in.MinPart:
		out, err = commitPut(ctx, c, in)
	default:
		out, err = commitMultipart(ctx, c, in, parts, copies > 0)
	}
	if err != nil && isConflict(err) {
		return objstore.PutOutput{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return out, err
}

// isConflict reports whether err says the base or the destination is not
// the version the commit was conditioned on. A PUT If-Match on a deleted
// key and a copy from a deleted source are 404s.
func isConflict(err error) bool {
	return errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrNotFound)
}

// readPart reads [off, end) of the new contents into a budget buffer.
func readPart(ctx context.Context, in CommitInput, off, end int64) (buf []byte, release func(), err error) {
	n := end - off
	size := memory.BufferSize(max(n, 1))
	if err := in.Budget.Reserve(ctx, size); err != nil {
		return nil, nil, fmt.Errorf("waiting for memory: %w", err)
	}
	buf = in.Budget.GetBuffer(int(size))[:n]
	release = func() {
		in.Budget.PutBuffer(buf)
		in.Budget.Release(size)
	}
	got, err := in.Data.ReadAt(ctx, buf, off)
	if err == nil && int64(got) != n {
		err = fmt.Errorf("read %d of %d bytes at %d of the local copy", got, n, off)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return buf, release, nil
}

func commitPut(ctx context.Context, c objstore.Client, in CommitInput) (objstore.PutOutput, error) {
	body, release, err := readPart(ctx, in, 0, in.Size)
	if err != nil {
		return objstore.PutOutput{}, err
	}
	defer release()
	out, err := c.Put(ctx, objstore.PutInput{Key: in.Key, Body: body,
		ChecksumCRC32C: objstore.CRC32C(crc32.Checksum(body, castagnoli)),
		IfMatch:        in.IfMatch, IfNoneMatch: in.IfNoneMatch, Metadata: in.Metadata})
	if err != nil {
		return objstore.PutOutput{}, fmt.Errorf("put object: %w", err)
	}
	return out, nil
}

func commitMultipart(ctx context.Context, c objstore.Client, in CommitInput, parts []piece, copies bool) (objstore.PutOutput, error) {
	id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: in.Key, Metadata: in.Metadata, CopyParts: copies})
	if err != nil {
		return objstore.PutOutput{}, fmt.Errorf("create multipart upload: %w", err)
	}
	if in.Track != nil {
		defer in.Track(in.Key, id)()
	}
	done, err := uploadPieces(ctx, c, in, id, parts)
	if err == nil {
		var out objstore.PutOutput
		out, err = c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: in.Key, UploadID: id, Parts: done,
			IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch})
		if err == nil {
			return out, nil
		}
		err = fmt.Errorf("complete multipart upload: %w", err)
	}
	abortUpload(ctx, c, in.Key, id, in.Log)
	return objstore.PutOutput{}, err
}

// uploadPieces uploads or copies every part, at most MaxInFlight at a time,
// and returns them in order. The first failure stops the rest.
func uploadPieces(ctx context.Context, c objstore.Client, in CommitInput, id string, parts []piece) ([]objstore.Part, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make([]objstore.Part, len(parts))
	sem := make(chan struct{}, in.MaxInFlight)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
			cancel()
		}
	}
	for i, p := range parts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			number := int32(i + 1)
			var (
				part objstore.Part
				err  error
			)
			if p.Copy {
				part, err = c.UploadPartCopy(ctx, objstore.PartCopyInput{Key: in.Key, UploadID: id, Number: number,
					SrcKey: in.BaseKey, SrcIfMatch: in.BaseETag, Offset: p.Off, Length: p.len()})
				if err != nil {
					err = fmt.Errorf("copy part %d [%d, %d) of %q: %w", number, p.Off, p.End, in.BaseKey, err)
				}
			} else {
				var body []byte
				var release func()
				if body, release, err = readPart(ctx, in, p.Off, p.End); err == nil {
					part, err = c.UploadPart(ctx, objstore.PartInput{Key: in.Key, UploadID: id, Number: number, Body: body,
						ChecksumCRC32C: objstore.CRC32C(crc32.Checksum(body, castagnoli))})
					release()
					if err != nil {
						err = fmt.Errorf("upload part %d: %w", number, err)
					}
				}
			}
			if err != nil {
				fail(err)
				return
			}
			part.Size = p.len()
			done[i] = part
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return done, nil
}
