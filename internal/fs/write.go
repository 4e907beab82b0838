package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/bucketfs/bucketfs/internal/upload"
)

// Write appends data at off to a write handle. Writes must be sequential: a
// write anywhere but at the end fails with EINVAL and abandons the file
// (nothing is uploaded, close reports EIO).
func (f *FS) Write(ctx context.Context, h *Handle, data []byte, off int64) (int, error) {
	if h.st != nil {
		return f.writeStaged(ctx, h, data, off)
	}
	if h.writer == nil {
		return 0, errorf(syscall.EBADF, "write %q: the file is open for reading only", h.in.key)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished {
		if h.err != nil {
			return 0, wrapf(syscall.EIO, h.err, "write %q: the upload failed earlier", h.in.key)
		}
		return 0, errorf(syscall.EBADF, "write %q: the file was already uploaded by fsync or close; reopen it to write again", h.in.key)
	}
	h.flushed = false
	if err := h.writer.Write(ctx, data, off); err != nil {
		f.finishLocked(h, err)
		if errors.Is(err, upload.ErrOutOfOrder) {
			return 0, wrapf(syscall.EINVAL, err, "write %q", h.in.key)
		}
		if errors.Is(err, upload.ErrTooLarge) {
			return 0, wrapf(syscall.EFBIG, err, "write %q", h.in.key)
		}
		return 0, wrapf(syscall.EIO, err, "write %q", h.in.key)
	}
	f.mu.Lock()
	h.in.size = h.writer.Size()
	h.in.mtime = f.now()
	f.mu.Unlock()
	return len(data), nil
}

// Flush is called on every close() of a descriptor of the handle. It
// completes the upload and reports its outcome, except when nothing has been
// written yet or the caller is not the process that opened the file: tools
// like touch, dd and shell redirections close one duplicate and keep writing
// through another, and fork()ed children close inherited descriptors. Then
// the upload completes at the last close (Release), or at the next open of
// the file, whichever comes first.
func (f *FS) Flush(ctx context.Context, h *Handle, pid uint32) error {
	if h.st != nil {
		return f.flushStaged(ctx, h, pid)
	}
	if h.writer == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished {
		return h.resultErr()
	}
	sameProcess := f.tgid(pid) == h.openPid
	if sameProcess && f.killed(pid) {
		// The kernel closes the files of a process a signal killed: that
		// close must not publish what it had written so far.
		f.finishLocked(h, errors.New("the writing process was killed before it closed the file"))
		return h.resultErr()
	}
	if h.writer.Size() == 0 || !sameProcess {
		h.flushed = true
		return nil
	}
	return f.completeLocked(ctx, h)
}

// Fsync completes the upload now (even of an empty file) and reports its
// outcome; later writes to the handle fail.
func (f *FS) Fsync(ctx context.Context, h *Handle) error {
	if h.st != nil {
		h.st.mu.Lock()
		defer h.st.mu.Unlock()
		return f.commitStagedLocked(ctx, h.in, h.st)
	}
	if h.writer == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished {
		return h.resultErr()
	}
	return f.completeLocked(ctx, h)
}

// Release is the last close of the handle. A deferred upload completes here;
// its error can only be logged, since no system call is waiting for it.
func (f *FS) Release(ctx context.Context, h *Handle) error {
	if h.st != nil {
		return f.releaseStaged(ctx, h)
	}
	if h.shared != nil {
		f.mu.Lock()
		h.in.readers--
		h.shared.refs--
		last := h.shared.refs == 0
		if last && h.in.shared == h.shared {
			h.in.shared = nil
		}
		f.dropForgottenLocked(h.in)
		f.mu.Unlock()
		if last {
			h.shared.r.Close()
		}
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.released = true
	if h.finished {
		return nil
	}
	return f.completeLocked(ctx, h)
}

func (h *Handle) resultErr() error {
	if h.err != nil {
		return wrapf(syscall.EIO, h.err, "upload of %q failed; the object was not created", h.in.key)
	}
	return nil
}

// completeLocked finishes the upload of h and updates the inode. REQUIRES(h.mu)
func (f *FS) completeLocked(ctx context.Context, h *Handle) error {
	out, err := h.writer.Complete(ctx)
	f.finishLocked(h, err)
	if err != nil {
		return h.resultErr()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := h.in
	f.setStatLocked(in, h.writer.Size(), out.ETag, in.mtime, nil)
	in.local = false
	// The file's directories now exist in the bucket through its key.
	for p := f.inodes[in.parent]; p != nil && p.ino != RootIno && p.local; p = f.inodes[p.parent] {
		p.local = false
		p.expiry = f.now().Add(f.cfg.DirTTL)
	}
	return nil
}

// finishLocked records the end of h's upload; on failure the writer is
// aborted (no partial object) and a file that did not exist before is
// removed again. REQUIRES(h.mu)
func (f *FS) finishLocked(h *Handle, err error) {
	if h.finished {
		return
	}
	h.finished = true
	h.err = err
	if err != nil {
		h.writer.Abort(context.Background())
		f.log.Warn("upload failed; no object was created", "key", h.in.key, "error", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.writers, h)
	in := h.in
	if in.writer == h {
		in.writer = nil
	}
	if err != nil {
		if h.created {
			f.detachLocked(in)
		} else {
			in.expiry = f.now() // look the old object up again
			in.local = false
		}
	}
}

// Shutdown aborts the uploads still in progress, so that no partial object
// is left behind, when the mount ends.
func (f *FS) Shutdown() {
	f.mu.Lock()
	hs := make([]*Handle, 0, len(f.writers))
	for h := range f.writers {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		if !h.finished {
			h.writer.Abort(context.Background())
			f.finishLocked(h, errors.New("file system unmounted before the file was closed"))
		}
		h.mu.Unlock()
	}
	// Edits still open are dropped: only close and fsync commit.
	f.mu.Lock()
	edits := make([]*staged, 0, len(f.edits))
	for st, in := range f.edits {
		edits = append(edits, st)
		if st.file.Changed() || st.created {
			f.log.Warn("file system unmounted while a file was open with changes not committed; the object is unchanged", "key", in.key)
		}
		if in.st == st {
			in.st = nil
		}
	}
	clear(f.edits)
	f.mu.Unlock()
	for _, st := range edits {
		st.mu.Lock()
		st.unlinked = true // no commit from here on
		st.mu.Unlock()
		f.dropStaged(st)
	}
}

// procKilled reports whether thread pid is exiting because a signal killed
// it: /proc/PID/stat shows PF_EXITING in its flags (field 9) and a signal in
// its exit code (field 52) while the kernel closes its files.
func procKilled(pid uint32) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 > len(b) {
		return false
	}
	f := strings.Fields(string(b[i+2:])) // f[0] is field 3
	if len(f) < 50 {
		return false
	}
	flags, err1 := strconv.ParseUint(f[9-3], 10, 64)
	code, err2 := strconv.ParseInt(f[52-3], 10, 64)
	const pfExiting = 0x4
	return err1 == nil && err2 == nil && flags&pfExiting != 0 && code&0x7f != 0
}

// procTgid maps a thread id to its process id (thread group) via /proc, so
// that a close from any thread of the opening process counts as the opener's.
func procTgid(pid uint32) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return pid
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return uint32(n)
			}
		}
	}
	return pid
}
