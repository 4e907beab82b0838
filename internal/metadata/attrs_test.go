package metadata

import (
	"syscall"
	"testing"
	"time"
)

// The values other tools write read as they mean.
func TestParseAttrsReadsS3fsAndRclone(t *testing.T) {
	a := ParseAttrs(map[string]string{"mode": "33188", "uid": "1001", "gid": "0", "mtime": "1700000000"})
	if a.Mode != syscall.S_IFREG|0o644 || !a.HasUID || a.UID != 1001 || !a.HasGID || a.GID != 0 ||
		!a.Mtime.Equal(time.Unix(1_700_000_000, 0)) {
		t.Fatalf("s3fs file: %+v", a)
	}
	if a := ParseAttrs(map[string]string{"mode": "41471"}); !a.IsSymlink() || a.Mode&0o7777 != 0o777 {
		t.Fatalf("s3fs symlink mode: %+v", a)
	}
	// rclone writes a fraction of any length.
	for in, want := range map[string]time.Time{
		"1700000000.5":           time.Unix(1_700_000_000, 500_000_000),
		"1700000000.123456789":   time.Unix(1_700_000_000, 123_456_789),
		"1700000000.12345678912": time.Unix(1_700_000_000, 123_456_789),
	} {
		if got := ParseAttrs(map[string]string{"mtime": in}).Mtime; !got.Equal(want) {
			t.Errorf("mtime %q = %v, want %v", in, got, want)
		}
	}
	// C's base 0, as s3fs reads: a leading 0 is octal.
	if a := ParseAttrs(map[string]string{"mode": "0100755"}); a.Mode != syscall.S_IFREG|0o755 {
		t.Fatalf("octal mode: %o", a.Mode)
	}
	// Garbage is as if absent.
	a = ParseAttrs(map[string]string{"mode": "rw-r--r--", "uid": "-1", "mtime": "yesterday"})
	if a.Mode != 0 || a.HasUID || !a.Mtime.IsZero() {
		t.Fatalf("garbage parsed: %+v", a)
	}
	if a := ParseAttrs(nil); a != (Attrs{}) {
		t.Fatalf("no metadata: %+v", a)
	}
}

func TestAttrsRoundTripAndKeepOtherKeys(t *testing.T) {
	in := Attrs{Mode: syscall.S_IFDIR | 0o750, UID: 7, GID: 8, HasUID: true, HasGID: true,
		Mtime: time.Unix(1_600_000_000, 42)}
	md := in.Metadata(map[string]string{"content-owner": "team-a", "mode": "1"})
	if md["content-owner"] != "team-a" {
		t.Fatalf("other metadata dropped: %v", md)
	}
	if md["mode"] != "16872" || md["uid"] != "7" || md["gid"] != "8" || md["mtime"] != "1600000000.000000042" {
		t.Fatalf("metadata = %v", md)
	}
	if out := ParseAttrs(md); out != in {
		t.Fatalf("round trip: %+v, want %+v", out, in)
	}
	if FormatTime(time.Unix(1_600_000_000, 0)) != "1600000000" {
		t.Fatal("whole seconds carry a fraction")
	}
	if md := (Attrs{}).Metadata(nil); len(md) != 0 {
		t.Fatalf("unset attributes wrote %v", md)
	}
}
