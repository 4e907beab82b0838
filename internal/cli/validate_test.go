package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateBucketName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my-bucket", true},
		{"my.bucket.example", true},
		{"bucket-123", true},
		{"123bucket", true},
		{"my-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias", true},
		{"bucket--usw2-az1--x-s3", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"My-Bucket", false},
		{"my_bucket", false},
		{"my bucket", false},
		{"-bucket", false},
		{"bucket-", false},
		{".bucket", false},
		{"bucket.", false},
		{"my..bucket", false},
		{"192.168.5.4", false},
		{"arn:aws:s3:us-west-2:123456789012:accesspoint/ap", false},
	}
	for _, tt := range tests {
		err := ValidateBucketName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateBucketName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !IsUsage(err) {
			t.Errorf("ValidateBucketName(%q) error is not a usage error", tt.name)
		}
	}
}

func TestParseBucketArg(t *testing.T) {
	tests := []struct {
		arg, bucket, prefix string
		ok                  bool
	}{
		{"bucket", "bucket", "", true},
		{"bucket/", "bucket", "", true},
		{"bucket/a/", "bucket", "a/", true},
		{"bucket/a/b/", "bucket", "a/b/", true},
		{"s3://bucket", "bucket", "", true},
		{"s3://bucket/", "bucket", "", true},
		{"s3://bucket/a/b/", "bucket", "a/b/", true},
		{"s3://bucket//", "bucket", "/", true},
		{"bucket/a", "", "", false},
		{"s3://bucket/a", "", "", false},
		{"s3://Bucket/", "", "", false},
		{"S3://bucket/", "", "", false},
		{"/a/", "", "", false},
	}
	for _, tt := range tests {
		b, p, err := ParseBucketArg(tt.arg)
		if (err == nil) != tt.ok || b != tt.bucket || p != tt.prefix {
			t.Errorf("ParseBucketArg(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.arg, b, p, err, tt.bucket, tt.prefix, tt.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name  string
		args  []string
		want  string // "" for success; the message otherwise ("..." suffix: prefix match)
		usage bool
	}{
		{"ok", []string{"b-1", dir}, "", false},
		{"ok with ca bundle and log directory", []string{"b-1", dir, "--ca-bundle", file, "-l", dir}, "", false},
		{"log directory created later", []string{"b-1", dir, "-l", missing}, "", false},
		{"mount point missing", []string{"b-1", missing}, "mount point " + missing + " does not exist", false},
		{"mount point is a file", []string{"b-1", file}, "mount point " + file + " is not a directory", false},
		{"ca bundle missing", []string{"b-1", dir, "--ca-bundle", missing}, "CA bundle " + missing + " does not exist", false},
		{"ca bundle is a directory", []string{"b-1", dir, "--ca-bundle", dir}, "CA bundle " + dir + " is not a file", false},
		{"log directory is a file", []string{"b-1", dir, "-l", file}, "log directory " + file + " is not a directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mustParse(t, tt.args...).Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			if IsUsage(err) != tt.usage {
				t.Errorf("IsUsage(%v) = %v, want %v", err, !tt.usage, tt.usage)
			}
			matchMessage(t, err.Error(), tt.want)
		})
	}
}

// TestValidateRechecksInvariants: a config changed after parsing (as the
// fstab helper or CSI may do) is held to the command-line rules.
func TestValidateRechecksInvariants(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		change func(c *MountConfig)
		want   string
	}{
		{"bad bucket", func(c *MountConfig) { c.S3.Bucket = "Bad" }, `invalid bucket name "Bad": ...`},
		{"bad prefix", func(c *MountConfig) { c.FS.Prefix = "p" }, `--prefix must end with '/' (got "p")`},
		{"relative mount point", func(c *MountConfig) { c.MountPoint = "m" }, `the mount point must be an absolute path (got "m")`},
		{"allow root and other", func(c *MountConfig) { c.FUSE.AllowRoot, c.FUSE.AllowOther = true, true }, "--allow-root and --allow-other ..."},
		{"read-only mismatch", func(c *MountConfig) { c.FS.ReadOnly = true }, "inconsistent read-only settings of the core and the FUSE mount"},
		{"sse", func(c *MountConfig) { c.S3.SSE = "x" }, `invalid value "x" for --sse: ...`},
		{"kms without sse", func(c *MountConfig) { c.S3.SSEKMSKeyID = "arn:aws:kms:r:1:key/k" }, "--sse-kms-key-id requires ..."},
		{"checksums", func(c *MountConfig) { c.S3.UploadChecksums = "" }, `invalid value "" for --upload-checksums: ...`},
		{"mode", func(c *MountConfig) { c.FS.DirMode = 0o1777 }, "--dir-mode and --file-mode take permission bits only (at most 0777)"},
		{"read part size", func(c *MountConfig) { c.FS.ReadPartSize = 0 }, "--read-part-size must be positive"},
		{"write part size", func(c *MountConfig) { c.FS.WritePartSize = 1 }, "--write-part-size must be between ..."},
		{"threads", func(c *MountConfig) { c.FS.MaxThreads = 0 }, "--max-threads must be positive"},
		{"ttl", func(c *MountConfig) { c.FS.FileTTL = 0 }, "metadata TTLs must be positive"},
		{"no-log", func(c *MountConfig) { c.NoLog, c.Debug = true, true }, "--no-log cannot be used with --debug or --log-directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, "b-1", dir)
			tt.change(c)
			err := c.Validate()
			if err == nil || !IsUsage(err) {
				t.Fatalf("Validate = %v, want usage error %q", err, tt.want)
			}
			matchMessage(t, err.Error(), tt.want)
		})
	}
}

func TestParse(t *testing.T) {
	cwd, _ := os.Getwd()
	tests := []struct {
		name string
		prog string
		args []string
		want Invocation // Mount is only checked for nil-ness
		err  string
	}{
		{"no args", "bucketfs", nil, Invocation{}, "missing command: ..."},
		{"help", "bucketfs", []string{"help"}, Invocation{Command: CommandHelp, Help: TopHelp()}, ""},
		{"--help", "bucketfs", []string{"--help"}, Invocation{Command: CommandHelp, Help: TopHelp()}, ""},
		{"-h", "bucketfs", []string{"-h"}, Invocation{Command: CommandHelp, Help: TopHelp()}, ""},
		{"help mount", "bucketfs", []string{"help", "mount"}, Invocation{Command: CommandHelp, Help: MountHelp()}, ""},
		{"help unmount", "bucketfs", []string{"help", "umount"}, Invocation{Command: CommandHelp, Help: UnmountHelp()}, ""},
		{"help other", "bucketfs", []string{"help", "x"}, Invocation{}, `no help for "x": ...`},
		{"mount --help", "bucketfs", []string{"mount", "--help"}, Invocation{Command: CommandHelp, Help: MountHelp()}, ""},
		{"--version", "bucketfs", []string{"--version"}, Invocation{Command: CommandVersion}, ""},
		{"-V", "bucketfs", []string{"-V"}, Invocation{Command: CommandVersion}, ""},
		{"version", "bucketfs", []string{"version"}, Invocation{Command: CommandVersion}, ""},
		{"mount --version", "bucketfs", []string{"mount", "-V"}, Invocation{Command: CommandVersion}, ""},
		{"mount", "bucketfs", []string{"mount", "b-1", "/m"}, Invocation{Command: CommandMount}, ""},
		{"mount error", "bucketfs", []string{"mount", "b-1"}, Invocation{}, "missing DIRECTORY argument: ..."},
		{"as mount-s3", "/usr/bin/mount-s3", []string{"b-1", "/m", "--read-only"}, Invocation{Command: CommandMount}, ""},
		{"as mount-s3 --version", "mount-s3", []string{"--version"}, Invocation{Command: CommandVersion}, ""},
		{"unmount", "bucketfs", []string{"unmount", "/m/"}, Invocation{Command: CommandUnmount, Dir: "/m"}, ""},
		{"umount relative", "bucketfs", []string{"umount", "m"}, Invocation{Command: CommandUnmount, Dir: filepath.Join(cwd, "m")}, ""},
		{"unmount lazy", "bucketfs", []string{"unmount", "-z", "/m"}, Invocation{Command: CommandUnmount, Dir: "/m", Lazy: true}, ""},
		{"unmount --lazy", "bucketfs", []string{"unmount", "/m", "--lazy"}, Invocation{Command: CommandUnmount, Dir: "/m", Lazy: true}, ""},
		{"unmount --help", "bucketfs", []string{"unmount", "--help"}, Invocation{Command: CommandHelp, Help: UnmountHelp()}, ""},
		{"unmount missing dir", "bucketfs", []string{"unmount"}, Invocation{}, "missing DIRECTORY argument: usage: bucketfs unmount DIRECTORY"},
		{"unmount two dirs", "bucketfs", []string{"unmount", "/a", "/b"}, Invocation{}, `unexpected argument "/b": usage: bucketfs unmount DIRECTORY`},
		{"unmount unknown flag", "bucketfs", []string{"unmount", "--force", "/a"}, Invocation{}, "unknown flag --force (see 'bucketfs unmount --help')"},
		{"unmount mount-s3 flag", "bucketfs", []string{"unmount", "--cache", "/a"}, Invocation{}, "unknown flag --cache (see 'bucketfs unmount --help')"},
		{"unknown command", "bucketfs", []string{"mnt"}, Invocation{}, `unknown command "mnt" (see 'bucketfs help')`},
		{"unknown top flag", "bucketfs", []string{"--foo"}, Invocation{}, "unknown flag --foo (see 'bucketfs help')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.prog, tt.args)
			if tt.err != "" {
				if err == nil || !IsUsage(err) {
					t.Fatalf("Parse(%q) = %+v, %v; want usage error %q", tt.args, got, err, tt.err)
				}
				matchMessage(t, err.Error(), tt.err)
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if (got.Mount != nil) != (tt.want.Command == CommandMount) {
				t.Errorf("Mount = %v for command %v", got.Mount, got.Command)
			}
			got.Mount = nil
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

// TestMountHelp: every flag is listed, each on one line with its help.
func TestMountHelp(t *testing.T) {
	help := MountHelp()
	lines := strings.Split(help, "\n")
	for _, s := range mountFlags {
		var found []string
		for _, l := range lines {
			if flagOfHelpLine(l) == "--"+s.long {
				found = append(found, l)
			}
		}
		if len(found) != 1 {
			t.Errorf("--%s is on %d help lines, want 1:\n%s", s.long, len(found), strings.Join(found, "\n"))
			continue
		}
		if !strings.HasSuffix(found[0], s.help) {
			t.Errorf("help line of --%s = %q, want it to end with %q", s.long, found[0], s.help)
		}
		if s.short != 0 && !strings.Contains(found[0], "-"+string(s.short)+", --"+s.long) {
			t.Errorf("help line of --%s lacks -%c: %q", s.long, s.short, found[0])
		}
	}
	for _, want := range []string{"Usage: bucketfs mount [OPTIONS] BUCKET DIRECTORY", "Bucket options:", "Mount options:", "Caching options:"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// flagOfHelpLine returns the long flag a help line documents ("" for none).
func flagOfHelpLine(l string) string {
	f := strings.Fields(l)
	if len(f) > 1 && len(f[0]) == 3 && strings.HasSuffix(f[0], ",") {
		f = f[1:]
	}
	if len(f) > 0 && strings.HasPrefix(f[0], "--") {
		return f[0]
	}
	return ""
}
