package cli

import (
	"strings"
	"testing"
)

// TestHelper: the command line mount(8) gives /sbin/mount.bucketfs becomes
// the same MountConfig as the equivalent "bucketfs mount" command line.
func TestHelper(t *testing.T) {
	tests := []struct {
		name string
		prog string
		args []string
		same []string // the equivalent "bucketfs mount" arguments
		inv  Invocation
	}{
		{"mount -t", "/sbin/mount.bucketfs", []string{"b-1", "/mnt", "-o", "allow-delete,region=us-east-1,rw"},
			[]string{"b-1", "/mnt", "--allow-delete", "--region", "us-east-1"}, Invocation{Command: CommandMount, Helper: true}},
		{"fstab line", "/sbin/mount.bucketfs", []string{"s3://b-1/p/", "/mnt", "-o", "_netdev,nosuid,nodev,nofail,rw,allow-delete"},
			[]string{"s3://b-1/p/", "/mnt", "--allow-delete"}, Invocation{Command: CommandMount, Helper: true}},
		{"ro and -n -v -t", "mount.bucketfs", []string{"b-1", "/mnt", "-nv", "-o", "ro", "-t", "bucketfs"},
			[]string{"b-1", "/mnt", "--read-only"}, Invocation{Command: CommandMount, Helper: true, Verbose: true}},
		{"-oVALUE and fake", "mount.fuse.bucketfs", []string{"-f", "b-1", "/mnt", "-ouid=1000,gid=1000,file-mode=0600"},
			[]string{"b-1", "/mnt", "--uid", "1000", "--gid", "1000", "--file-mode", "0600"}, Invocation{Command: CommandMount, Helper: true, Fake: true}},
		{"sloppy", "mount.bucketfs", []string{"b-1", "/mnt", "-s", "-o", "bogus,allow-other"},
			[]string{"b-1", "/mnt", "--allow-other"}, Invocation{Command: CommandMount, Helper: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.prog, tt.args)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := mustParse(t, tt.same...)
			if got.Mount == nil {
				t.Fatalf("no mount config: %+v", got)
			}
			gotCfg := *got.Mount
			gotCfg.Warnings = nil
			if gotCfg.S3 != want.S3 || gotCfg.FS != want.FS || gotCfg.FUSE != want.FUSE || gotCfg.MountPoint != want.MountPoint {
				t.Errorf("config = %+v\nwant     %+v", gotCfg, *want)
			}
			got.Mount = nil
			if got != tt.inv {
				t.Errorf("invocation = %+v, want %+v", got, tt.inv)
			}
		})
	}
}

func TestHelperErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"b-1"}, "want BUCKET and DIRECTORY, got 1 arguments"},
		{[]string{"b-1", "/mnt", "-o"}, "-o needs a value"},
		{[]string{"b-1", "/mnt", "-o", "bogus"}, `unknown option "bogus": not a bucketfs mount option`},
		{[]string{"b-1", "/mnt", "-o", "region"}, `option "region" needs a value, as in "region=REGION"`},
		{[]string{"b-1", "/mnt", "-o", "foreground"}, "must not stay in the foreground"},
		{[]string{"b-1", "/mnt", "-o", "uid=abc"}, `invalid value "abc" for --uid: must be a number`},
		{[]string{"b-1", "/mnt", "-o", "ro,allow-delete"}, "--read-only and --allow-delete cannot be used together"},
		{[]string{"b-1", "/mnt", "-N", "/proc/1/ns/mnt"}, "-N (mount in another namespace) is not supported"},
		{[]string{"b-1", "/mnt", "-x"}, "unknown flag -x"},
		{[]string{"Bad_Bucket", "/mnt"}, "invalid bucket name"},
	}
	for _, tt := range tests {
		_, err := Parse("/sbin/mount.bucketfs", tt.args)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(mount.bucketfs %q) = %v, want usage error containing %q", tt.args, err, tt.want)
		}
	}
	inv, err := Parse("/sbin/mount.bucketfs", []string{"--help"})
	if err != nil || inv.Command != CommandHelp || !strings.Contains(inv.Help, "mount -t bucketfs") {
		t.Errorf("--help = %+v, %v", inv, err)
	}
}

func TestCSICommand(t *testing.T) {
	inv, err := Parse("bucketfs", []string{"csi", "--endpoint", "unix:///x"})
	if err != nil || inv.Command != CommandCSI {
		t.Errorf("Parse(csi) = %+v, %v", inv, err)
	}
	inv, err = Parse("bucketfs", []string{"help", "csi"})
	if err != nil || inv.Command != CommandHelp || !strings.Contains(inv.Help, "bucketfs csi --help") {
		t.Errorf("Parse(help csi) = %+v, %v", inv, err)
	}
}
