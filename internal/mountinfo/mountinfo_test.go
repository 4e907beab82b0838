package mountinfo

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

func TestParse(t *testing.T) {
	entries, err := Parse(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"/", "ext4", "/dev/sda1", "rw,relatime"},
		{"/mnt/with space", "fuse.bucketfs", "s3://b-1/p/", "rw,nosuid,nodev,relatime"},
		{"/mnt/data", "fuse.sshfs", "host:/data", "rw,relatime"},
		{"/mnt/data", "fuse.bucketfs", "s3://b-2", "rw,relatime"},
		{"/proc", "proc", "proc", "rw,nosuid"},
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
		got := Last(entries, tt.dir)
		if (got == nil && tt.fstype != "") || (got != nil && got.FSType != tt.fstype) {
			t.Errorf("Last(%q) = %+v, want type %q", tt.dir, got, tt.fstype)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := map[string]string{
		`plain`:         "plain",
		`a\040b`:        "a b",
		`tab\011x\134y`: "tab\tx\\y",
		`end\04`:        `end\04`,
		`bad\999`:       `bad\999`,
	}
	for in, want := range tests {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
