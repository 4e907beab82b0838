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
// Lookup of one name races HEAD(key) with LIST(prefix key+"/", max 1), as a
// stat must not cost two round trips one after the other.
package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Kind is a directory entry's type.
type Kind uint8

const (
	File Kind = iota + 1
	Dir
)

func (k Kind) String() string {
	if k == Dir {
		return "directory"
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
// ending in "/"). A directory wins over a file of the same name.
func Lookup(ctx context.Context, c objstore.Client, dirKey, name string) (Entry, error) {
	if !ValidName(name) {
		return Entry{}, ErrNotFound
	}
	key := dirKey + name
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type headResult struct {
		info objstore.ObjectInfo
		err  error
	}
	headc := make(chan headResult, 1)
	go func() {
		info, err := c.Head(ctx, key)
		headc <- headResult{info, err}
	}()

	list, lerr := c.List(ctx, objstore.ListInput{Prefix: key + "/", Delimiter: "/", MaxKeys: 1})
	if lerr == nil && (len(list.Objects) > 0 || len(list.CommonPrefixes) > 0) {
		// The directory wins; the HEAD is no longer needed.
		return Entry{Name: name, Kind: Dir}, nil
	}
	h := <-headc
	if lerr != nil {
		return Entry{}, fmt.Errorf("list %q: %w", key+"/", lerr)
	}
	if h.err != nil {
		if errors.Is(h.err, objstore.ErrNotFound) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, fmt.Errorf("head %q: %w", key, h.err)
	}
	return Entry{Name: name, Kind: File, Size: h.info.Size, ETag: h.info.ETag, Mtime: h.info.LastModified}, nil
}

// ListDir lists every visible entry of the directory whose key prefix is
// dirKey, paging through ListObjectsV2. The result is sorted by name, each
// name once, directories shadowing files. pageSize 0 means the server default.
func ListDir(ctx context.Context, c objstore.Client, dirKey string, pageSize int) ([]Entry, error) {
	l := NewLister(c, dirKey, pageSize)
	var entries []Entry
	for {
		e, ok, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return entries, nil
		}
		entries = append(entries, e)
	}
}
