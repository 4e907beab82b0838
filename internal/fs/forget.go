package fs

import "container/list"

// # Forgetting inodes
//
// The table holds an inode while the kernel may refer to it (an entry reply
// of Lookup, Create or Mkdir handed it out, and no FORGET has taken its
// lookup count back to zero: go-fuse counts and tells Forget), or while
// keep says so. Inodes the kernel was never given — the entries of a
// listing read with READDIR rather than READDIRPLUS, the files fetched
// ahead, names looked up inside the core — wait in a list of at most
// maxUnreferenced, oldest dropped first, so that walking a million keys
// keeps a bounded table. A dropped inode costs its next lookup a request.
//
// A FORGET that crosses a LOOKUP of the same inode in flight (the kernel
// evicted it while a new lookup of its name was on its way) could drop an
// inode the new reply hands out; the kernel then gets ESTALE for it, and
// retries the path walk with a fresh LOOKUP, which makes a new inode.

// maxUnreferenced is how many inodes the kernel was never handed out the
// table keeps (about 300 bytes each).
const maxUnreferenced = 16384

// forgetState is an inode's side of forgetting. GUARDED_BY(FS.mu)
type forgetState struct {
	kernel bool          // handed out to the kernel, not forgotten since
	unref  *list.Element // in FS.unref while not handed out
	// seen is the last listing of the parent that showed the inode, lists
	// (directories) the listings started: a listing that ends drops the
	// children it did not show, with no set of the names it showed.
	seen, lists uint64
}

// keep reports whether the inode must stay in the table though the kernel
// no longer refers to it: it has open handles, or state that exists only
// here (a directory made by mkdir, a file being written or edited, a fetch
// ahead in flight). The root always stays. REQUIRES(FS.mu)
func (in *inode) keep() bool {
	return in.ino == RootIno || in.local || in.writer != nil || in.st != nil || in.readers > 0 || in.shared != nil ||
		in.fetching != nil
}

// handOutLocked records that an entry reply gives in to the kernel.
// REQUIRES(f.mu)
func (f *FS) handOutLocked(in *inode) {
	in.fg.kernel = true
	if in.fg.unref != nil {
		f.unref.Remove(in.fg.unref)
		in.fg.unref = nil
	}
}

// noteNewLocked puts a new inode in the unreferenced list, dropping the
// oldest beyond maxUnreferenced. REQUIRES(f.mu)
func (f *FS) noteNewLocked(in *inode) {
	in.fg.unref = f.unref.PushBack(in)
	for f.unref.Len() > maxUnreferenced {
		old := f.unref.Remove(f.unref.Front()).(*inode)
		old.fg.unref = nil
		if !f.dropLocked(old) && !old.fg.kernel && f.inodes[old.ino] == old {
			old.fg.unref = f.unref.PushBack(old) // kept for now: try again later
			break
		}
	}
}

// Forget tells the core the kernel no longer refers to ino (its lookup
// count reached zero). The inode is dropped unless keep says otherwise;
// its next lookup by name makes a new one.
func (f *FS) Forget(ino uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.inodes[ino]; in != nil {
		in.fg.kernel = false
		f.dropLocked(in)
	}
}

// dropForgottenLocked drops in once its last handle is gone, if the
// kernel forgot it meanwhile. REQUIRES(f.mu)
func (f *FS) dropForgottenLocked(in *inode) {
	if !in.fg.kernel && in.fg.unref == nil {
		f.dropLocked(in)
	}
}

// dropLocked removes in from the table and from its parent unless the
// kernel holds it or keep says no; a directory goes with the children it
// still knows (the kernel forgets children before their directory), and
// stays if one of them must. It reports whether in was dropped.
// REQUIRES(f.mu)
func (f *FS) dropLocked(in *inode) bool {
	if in.fg.kernel || in.keep() || f.inodes[in.ino] != in {
		return false
	}
	for _, cino := range in.children {
		if c := f.inodes[cino]; c != nil && !f.dropLocked(c) {
			return false
		}
	}
	if p := f.inodes[in.parent]; p != nil && p.children[in.name] == in.ino {
		delete(p.children, in.name)
	}
	if in.fg.unref != nil {
		f.unref.Remove(in.fg.unref)
		in.fg.unref = nil
	}
	f.dropContentLocked(in)
	f.setOrderLocked(in, nil)
	delete(f.inodes, in.ino)
	return true
}

// InodesInUse is the number of inodes in the table (StatFS shows it as the
// files in use).
func (f *FS) InodesInUse() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inodes)
}
