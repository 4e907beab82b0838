package fs

import (
	"syscall"

	"github.com/bucketfs/bucketfs/internal/metadata"
)

// The kernel's page cache is per inode: every handle of an inode reads
// through the same cached pages, whichever handle brought them in. A handle
// must only ever return bytes of the version it opened (or ESTALE), so a
// new version of a file that is open for reading gets an inode of its own;
// the old inode, no longer reachable by name, keeps its version for the
// handles still open on it until the kernel forgets it.

// otherVersionLocked reports whether e is a version of the file in other
// than the one its open read handles read: then e needs a new inode.
// REQUIRES(f.mu)
func otherVersionLocked(in *inode, e metadata.Entry) bool {
	return in.kind == metadata.File && e.Kind == metadata.File && in.etag != "" && e.ETag != in.etag &&
		(in.readers > 0 || in.shared != nil)
}

// staleOpenErr refuses a read open of in when the stat it made at open
// shows a new version while other handles still read the old one: the
// kernel then looks the name up again (an open that fails with ESTALE is
// retried once with revalidation), and the lookup gives the new version its
// own inode. REQUIRES(f.mu)
func staleOpenErr(in *inode, etag string) error {
	if in.readers > 0 && in.etag != "" && etag != in.etag {
		return errorf(syscall.ESTALE, "open %q: the object changed while %d handle(s) read the old version; look it up again",
			in.key, in.readers)
	}
	return nil
}
