// Package metadata maps S3 keys to directory entries: which names a directory
// has, and whether a name is a file or a directory.
//
// S3 has no directories. A directory "d" exists in directory P when any key
// starts with P+"d/" (including a zero-byte "directory marker" P+"d/" itself);
// a file "f" exists when the key P+"f" exists. The corner cases, all decided
// here and nowhere else:
//
//   - A name that is both (keys "a" and "a/b"): the directory wins and the
//     object "a" is hidden until no key under "a/" remains.
//   - Names that cannot be file names are hidden: "", ".", "..", names with
//     "\x00"; so keys like "a//b", "a/./b" or "a/../b" never appear (their
//     directories still exist if another key gives them).
//   - Keys ending in "/" are directory markers, never files.
//   - Listings are merged and returned in byte-wise lexicographic order of
//     names: S3 orders "a-b" before the prefix "a/", but the name "a" sorts
//     before "a-b".
//
// Lookup of one name races a stat of key with LIST(prefix key+"/", max 1), as
// a stat must not cost two round trips one after the other. The stat is a
// HEAD, or (with dataMax > 0) a GET of the object's first dataMax bytes: it
// answers the same question with the same headers, and an object that small
// comes back whole, so reading it after the lookup needs no request at all.
// StatFile is the stat alone, for a name a trusted listing showed as a file.
package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Kind is a directory entry's type.
type Kind uint8

const (
	File Kind = iota + 1
	Dir
	// Symlink is a file object whose metadata says it is a symbolic link
	// (see attrs.go); only POSIX mode tells it from a File.
	Symlink
)

func (k Kind) String() string {
	switch k {
	case Dir:
		return "directory"
	case Symlink:
		return "symbolic link"
	}
	return "file"
}

// Entry is one name in a directory as S3 shows it.
type Entry struct {
	Name  string
	Kind  Kind
	Size  int64
	ETag  string
	Mtime time.Time
	Local bool // given by Lister.AddLocal, not by S3
	// Data is the whole content of a file at ETag, when Lookup fetched it
	// (objects of at most dataMax bytes); nil otherwise.
	Data []byte
	// Meta is the object's user metadata when a stat gave it (never from a
	// listing): POSIX mode reads the file's attributes from it.
	Meta map[string]string
}

// MaxKeyLen is S3's limit on key length in bytes.
const MaxKeyLen = 1024

// ValidName reports whether name can be a file name.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsRune(name, '/') && !strings.ContainsRune(name, 0)
}

// ErrNotFound is returned by Lookup when the name is neither a file nor a directory.
var ErrNotFound = fmt.Errorf("no such file or directory: %w", objstore.ErrNotFound)

// Lookup resolves name inside the directory whose key prefix is dirKey ("" or
// ending in "/"). A directory wins over a file of the same name. dataMax is
// passed to Stat: a file of at most dataMax bytes comes with its Data.
func Lookup(ctx context.Context, c objstore.Client, dirKey, name string, dataMax int64) (Entry, error) {
	if !ValidName(name) {
		return Entry{}, ErrNotFound
	}
	key := dirKey + name
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type statResult struct {
		info objstore.ObjectInfo
		data []byte
		err  error
	}
	statc := make(chan statResult, 1)
	go func() {
		info, data, err := Stat(ctx, c, key, dataMax)
		statc <- statResult{info, data, err}
	}()

	list, lerr := c.List(ctx, objstore.ListInput{Prefix: key + "/", Delimiter: "/", MaxKeys: 1})
	if lerr == nil && (len(list.Objects) > 0 || len(list.CommonPrefixes) > 0) {
		// The directory wins; the stat is no longer needed.
		return Entry{Name: name, Kind: Dir}, nil
	}
	st := <-statc
	if lerr != nil {
		return Entry{}, fmt.Errorf("list %q: %w", key+"/", lerr)
	}
	if st.err != nil {
		if errors.Is(st.err, objstore.ErrNotFound) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, st.err
	}
	return fileEntry(name, st.info, st.data), nil
}

func fileEntry(name string, info objstore.ObjectInfo, data []byte) Entry {
	return Entry{Name: name, Kind: File, Size: info.Size, ETag: info.ETag, Mtime: info.LastModified, Data: data, Meta: info.Metadata}
}

// StatFile resolves name as a file only, with one request (Stat) and no
// LIST of name+"/": for a caller that already knows name is not a directory
// (a listing of dirKey it still trusts showed it as a file). ErrNotFound
// means the object is gone, and the caller should Lookup again: it may have
// become a directory.
func StatFile(ctx context.Context, c objstore.Client, dirKey, name string, dataMax int64) (Entry, error) {
	if !ValidName(name) {
		return Entry{}, ErrNotFound
	}
	info, data, err := Stat(ctx, c, dirKey+name, dataMax)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, err
	}
	return fileEntry(name, info, data), nil
}

// Stat returns what S3 says of the object key. With dataMax <= 0 it is one
// HEAD. Otherwise it is one GET of the first dataMax bytes, whose response
// carries the same size, ETag and Last-Modified; data is then the whole
// object when it has at most dataMax bytes (else nil: the bytes read are
// dropped). A GET that fails for any reason but a missing key (an archived
// object, a server refusing ranges) is answered by a HEAD instead, so Stat
// never reports less than a HEAD would. The response is checked: a range,
// size or byte count other than asked for is not trusted.
func Stat(ctx context.Context, c objstore.Client, key string, dataMax int64) (objstore.ObjectInfo, []byte, error) {
	if dataMax > 0 {
		info, data, err := statByGet(ctx, c, key, dataMax)
		if err == nil || errors.Is(err, objstore.ErrNotFound) || ctx.Err() != nil {
			return info, data, err
		}
	}
	info, err := c.Head(ctx, key)
	if err != nil {
		return objstore.ObjectInfo{}, nil, fmt.Errorf("head %q: %w", key, err)
	}
	return info, nil, nil
}

func statByGet(ctx context.Context, c objstore.Client, key string, dataMax int64) (objstore.ObjectInfo, []byte, error) {
	out, err := c.Get(ctx, objstore.GetInput{Key: key, Offset: 0, Length: dataMax})
	if err != nil {
		return objstore.ObjectInfo{}, nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer out.Body.Close()
	size := out.Info.Size
	if size < 0 || out.Offset != 0 || out.Length != min(dataMax, size) {
		return objstore.ObjectInfo{}, nil, fmt.Errorf("get %q [0, +%d): server returned [%d, +%d) of %d bytes",
			key, dataMax, out.Offset, out.Length, size)
	}
	if size > dataMax {
		// Only part of the object: reads will fetch what they need. The
		// bytes are still read through, so the connection is reused.
		if n, err := io.CopyN(io.Discard, out.Body, out.Length); err != nil {
			return objstore.ObjectInfo{}, nil, fmt.Errorf("get %q: read %d of %d bytes: %w", key, n, out.Length, err)
		}
		return out.Info, nil, nil
	}
	buf := make([]byte, out.Length)
	if n, err := io.ReadFull(out.Body, buf); err != nil {
		return objstore.ObjectInfo{}, nil, fmt.Errorf("get %q: read %d of %d bytes: %w", key, n, out.Length, err)
	}
	return out.Info, buf, nil
}
