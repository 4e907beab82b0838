package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// A name longer than NAME_MAX (255 bytes) is refused with ENAMETOOLONG by
// create, mkdir and stat, and costs no request (S3 would take a key of
// 1,024 bytes, or fail it as an error that became EIO).
func TestLongNamesAreENAMETOOLONG(t *testing.T) {
	srv, bucket, c := newBucket(t, map[string]string{"f.txt": "x"})
	logs := t.TempDir()
	m := mountBucket(t, srv, bucket, c, bucket, "--debug", "--log-directory", logs)
	long := strings.Repeat("n", 256)

	f, err := os.OpenFile(m.path(long), os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		f.Close()
	}
	wantErrno(t, "create of a 256-byte name", err, syscall.ENAMETOOLONG)
	wantErrno(t, "mkdir of a 256-byte name", os.Mkdir(m.path(long), 0o755), syscall.ENAMETOOLONG)
	_, err = os.Stat(m.path(long))
	wantErrno(t, "stat of a 256-byte name", err, syscall.ENAMETOOLONG)
	_, err = os.Stat(m.path("f.txt/" + long))
	wantErrno(t, "stat of a 256-byte name below a file", err, syscall.ENOTDIR)

	// 255 bytes is a name like any other.
	ok := strings.Repeat("o", 255)
	m.mustSh("echo y > " + ok + " && cat " + ok)
	if _, found := m.object(ok); !found {
		t.Fatalf("the 255-byte name was not uploaded")
	}
	for name, b := range unmountForLogs(t, m, logs) {
		for _, line := range strings.Split(b, "\n") {
			if strings.Contains(line, "s3 request") && strings.Contains(line, long[:200]) {
				t.Fatalf("%s: a request was sent for the long name: %s", name, line)
			}
		}
	}
}
