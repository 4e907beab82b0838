package e2e

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// peakRSS is the VmHWM of process pid, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// --memory-target bounds the whole process: four concurrent readers of a
// large object and two concurrent writers leave its peak RSS within it, also
// with part sizes that are not powers of two (their buffers are sized and
// reserved in whole MiB).
func TestMemoryTargetBoundsTheProcess(t *testing.T) {
	for name, parts := range map[string][]string{
		"default parts": nil,
		"10 MiB parts":  {"--read-part-size", "10485760", "--write-part-size", "10485760"},
	} {
		t.Run(name, func(t *testing.T) { memoryTargetBoundsTheProcess(t, parts) })
	}
}

func memoryTargetBoundsTheProcess(t *testing.T, parts []string) {
	const target = 96 // MiB, the smallest accepted
	srv, bucket, c := newBucket(t, nil)
	data := randomBytes(t, 192<<20)
	putBig(t, c, "big.bin", data)
	m := mountBucket(t, srv, bucket, c, bucket, append([]string{"--memory-target", strconv.Itoa(target)}, parts...)...)
	pids := daemonsFor(m.dir)
	if len(pids) != 1 {
		t.Fatalf("bucketfs processes serving %s: %v", m.dir, pids)
	}

	want := fmt.Sprintf("%x", sha256.Sum256(data))
	out := m.mustSh(`for i in 1 2 3 4; do sha256sum big.bin & done; wait`)
	if n := strings.Count(out, want); n != 4 {
		t.Fatalf("4 concurrent readers: %d read the object's bytes:\n%s", n, out)
	}
	m.mustSh(`head -c 100000000 /dev/urandom > /dev/shm/bucketfs-e2e-src.$$ && ` +
		`(cat /dev/shm/bucketfs-e2e-src.$$ > w1.bin & cat /dev/shm/bucketfs-e2e-src.$$ > w2.bin; wait); ` +
		`rm -f /dev/shm/bucketfs-e2e-src.$$`)
	for _, k := range []string{"w1.bin", "w2.bin"} {
		if b, ok := m.object(k); !ok || len(b) != 100000000 {
			t.Fatalf("object %s: %d bytes, present %v", k, len(b), ok)
		}
	}
	if peak := peakRSS(t, pids[0]); peak > target<<20 {
		t.Errorf("peak RSS %.1f MiB, above --memory-target %d", float64(peak)/(1<<20), target)
	} else {
		t.Logf("peak RSS %.1f MiB with --memory-target %d", float64(peak)/(1<<20), target)
	}
}
