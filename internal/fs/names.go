package fs

import "syscall"

// nameMax is the longest name, in bytes, of a file or directory (NAME_MAX,
// what StatFS reports): longer names are refused with ENAMETOOLONG before
// any request, whatever the bucket would allow (a key may be 1,024 bytes).
const nameMax = 255

// nameLenErr refuses a name longer than nameMax.
func nameLenErr(name string) error {
	if len(name) > nameMax {
		return errorf(syscall.ENAMETOOLONG, "name %.40q… is %d bytes, longer than %d", name, len(name), nameMax)
	}
	return nil
}
