package mount

import (
	"strings"
	"testing"
)

const sampleMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
36 22 0:31 / /mnt/with\040space rw,nosuid,nodev,relatime shared:20 - fuse.bucketfs s3://b-1/p/ rw,user_id=1000,group_id=1000
37 22 0:32 / /mnt/data rw,relatime - fuse.sshfs host:/data rw
38 37 0:33 / /mnt/data rw,relatime shared:21 master:3 - fuse.bucketfs s3://b-2 rw
39 22 0:5 / /proc rw,nosuid - proc proc rw
garbage line
`

func TestParseMountinfo(t *testing.T) {
	entries, err := parseMountinfo(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountEntry{
		{"/", "ext4", "/dev/sda1"},
		{"/mnt/with space", "fuse.bucketfs", "s3://b-1/p/"},
		{"/mnt/data", "fuse.sshfs", "host:/data"},
		{"/mnt/data", "fuse.bucketfs", "s3://b-2"},
		{"/proc", "proc", "proc"},
	}
	if len(entries) != len(want) {
		t.Fatalf("entries = %+v", entries)
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, entries[i], want[i])
		}
	}
	tests := []struct {
		dir, fstype string
	}{
		{"/mnt/with space", "fuse.bucketfs"},
		{"/mnt/data", "fuse.bucketfs"}, // the topmost of two
		{"/mnt", ""},
	}
	for _, tt := range tests {
		got := lastMountAt(entries, tt.dir)
		if (got == nil && tt.fstype != "") || (got != nil && got.FSType != tt.fstype) {
			t.Errorf("lastMountAt(%q) = %+v, want type %q", tt.dir, got, tt.fstype)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	tests := map[string]string{
		`plain`:         "plain",
		`a\040b`:        "a b",
		`tab\011x\134y`: "tab\tx\\y",
		`end\04`:        `end\04`,
		`bad\999`:       `bad\999`,
	}
	for in, want := range tests {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnmountRefusesNonFUSE: unmount only touches FUSE mount points.
func TestUnmountRefusesNonFUSE(t *testing.T) {
	dir := t.TempDir()
	if err := Unmount(dir, false); err == nil || err.Error() != dir+" is not a mount point" {
		t.Errorf("Unmount(%s) = %v", dir, err)
	}
	if m, err := findMount("/proc"); err != nil || m == nil {
		t.Skipf("no /proc mount in this environment (%v)", err)
	}
	if err := Unmount("/proc", false); err == nil || err.Error() != "/proc is not a FUSE mount (it is proc)" {
		t.Errorf("Unmount(/proc) = %v", err)
	}
}

func TestCheckNotMounted(t *testing.T) {
	if err := checkNotMounted(t.TempDir()); err != nil {
		t.Errorf("checkNotMounted(temp dir) = %v", err)
	}
}
