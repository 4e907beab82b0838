package fuse

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// kernelReadAheadKB is the kernel read-ahead of the mount. FUSE offers the
// file system only 128 KiB at INIT, so sequential reads arrive as 128 KiB
// requests, each a round trip through /dev/fuse; with a larger read-ahead
// the kernel sends requests up to max_read (1 MiB) and several at once,
// which the prefetcher serves from the chunks it already fetches.
const kernelReadAheadKB = 4096

// raiseReadAhead sets the read-ahead of the mount at dir through sysfs
// (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb). Only root may; others keep
// the kernel's default, which is slower but correct.
func raiseReadAhead(dir string, kb int) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return err
	}
	major, minor := (st.Dev>>8)&0xfff|(st.Dev>>32)&^0xfff, st.Dev&0xff|(st.Dev>>12)&^0xff
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	return os.WriteFile(path, []byte(strconv.Itoa(kb)), 0)
}

// RaiseReadAhead gives the mount at dir the read-ahead a bucketfs mount
// gets: for internal/fuse/fusetest, whose mounts are measured beside ours.
func RaiseReadAhead(dir string) error { return raiseReadAhead(dir, kernelReadAheadKB) }
