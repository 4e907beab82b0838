package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mustParse parses "bucketfs mount" arguments that must be valid.
func mustParse(t *testing.T, args ...string) *MountConfig {
	t.Helper()
	c, err := ParseMount(args)
	if err != nil {
		t.Fatalf("ParseMount(%q): %v", args, err)
	}
	return c
}

func TestParseMountDefaults(t *testing.T) {
	c := mustParse(t, "my-bucket", "/mnt/s3")
	checks := []struct {
		name      string
		got, want any
	}{
		{"bucket", c.S3.Bucket, "my-bucket"},
		{"prefix", c.FS.Prefix, ""},
		{"mount point", c.MountPoint, "/mnt/s3"},
		{"source", c.Source(), "s3://my-bucket"},
		{"fsname", c.FUSE.FsName, "s3://my-bucket"},
		{"description", c.Description(), "bucket my-bucket"},
		{"foreground", c.Foreground, false},
		{"debug", c.Debug, false},
		{"no-log", c.NoLog, false},
		{"log directory", c.LogDirectory, ""},
		{"uid", c.FS.UID, uint32(os.Getuid())},
		{"gid", c.FS.GID, uint32(os.Getgid())},
		{"dir mode", c.FS.DirMode, uint32(0o755)},
		{"file mode", c.FS.FileMode, uint32(0o644)},
		{"read-only", c.FS.ReadOnly || c.FUSE.ReadOnly, false},
		{"allow-delete", c.FS.AllowDelete, false},
		{"allow-overwrite", c.FS.AllowOverwrite, false},
		{"allow-other", c.FUSE.AllowOther, false},
		{"allow-root", c.FUSE.AllowRoot, false},
		{"auto-unmount", c.FUSE.AutoUnmount, false},
		{"fuse debug", c.FUSE.Debug, false},
		{"dir ttl", c.FS.DirTTL, time.Second},
		{"file ttl", c.FS.FileTTL, 100 * time.Millisecond},
		{"negative ttl", c.FS.NegativeTTL, 100 * time.Millisecond},
		{"fuse dir ttl", c.FUSE.DirTTL, time.Second},
		{"fuse file ttl", c.FUSE.FileTTL, 100 * time.Millisecond},
		{"fuse negative ttl", c.FUSE.NegativeTTL, 100 * time.Millisecond},
		{"read part size", c.FS.ReadPartSize, int64(8 << 20)},
		{"write part size", c.FS.WritePartSize, int64(8 << 20)},
		{"max threads", c.FS.MaxThreads, 16},
		{"max connections", c.S3.MaxConnections, 16},
		{"region", c.S3.Region, ""},
		{"endpoint", c.S3.EndpointURL, ""},
		{"path style", c.S3.ForcePathStyle, false},
		{"profile", c.S3.Profile, ""},
		{"no sign", c.S3.NoSignRequest, false},
		{"requester pays", c.S3.RequesterPays, false},
		{"owner", c.S3.ExpectedBucketOwner, ""},
		{"storage class", c.S3.StorageClass, ""},
		{"sse", c.S3.SSE, ""},
		{"kms key", c.S3.SSEKMSKeyID, ""},
		{"checksums", c.S3.UploadChecksums, "crc32c"},
		{"ca bundle", c.S3.CABundle, ""},
		{"user agent", c.S3.UserAgentPrefix, ""},
		{"warnings", len(c.Warnings), 0},
		{"fs logger", c.FS.Logger == nil, true},
		{"fuse logger", c.FUSE.Logger == nil, true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestParseMountFlags(t *testing.T) {
	const kms = "arn:aws:kms:eu-west-1:111122223333:key/dabe1478-fe48-47ca-b6f8-ca044b643a82"
	cwd, _ := os.Getwd()
	tests := []struct {
		name string
		args []string
		ok   func(c *MountConfig) bool
	}{
		{"bucket with prefix", []string{"b-1/some/dir/", "/m"}, func(c *MountConfig) bool {
			return c.S3.Bucket == "b-1" && c.FS.Prefix == "some/dir/" && c.Source() == "s3://b-1/some/dir/" &&
				c.Description() == "prefix some/dir/ of bucket b-1"
		}},
		{"bucket with trailing slash only", []string{"b-1/", "/m"}, func(c *MountConfig) bool { return c.S3.Bucket == "b-1" && c.FS.Prefix == "" }},
		{"s3 uri", []string{"s3://b-1", "/m"}, func(c *MountConfig) bool { return c.S3.Bucket == "b-1" && c.FS.Prefix == "" }},
		{"s3 uri with prefix", []string{"s3://b-1/p/q/", "/m"}, func(c *MountConfig) bool { return c.S3.Bucket == "b-1" && c.FS.Prefix == "p/q/" }},
		{"--prefix", []string{"b-1", "/m", "--prefix", "p/"}, func(c *MountConfig) bool { return c.FS.Prefix == "p/" && c.FUSE.FsName == "s3://b-1/p/" }},
		{"--prefix=", []string{"b-1", "/m", "--prefix=p/"}, func(c *MountConfig) bool { return c.FS.Prefix == "p/" }},
		{"--prefix empty", []string{"b-1", "/m", "--prefix="}, func(c *MountConfig) bool { return c.FS.Prefix == "" }},
		{"relative mount point", []string{"b-1", "mnt"}, func(c *MountConfig) bool { return c.MountPoint == filepath.Join(cwd, "mnt") }},
		{"flags before args", []string{"--read-only", "-f", "b-1", "/m"}, func(c *MountConfig) bool { return c.FS.ReadOnly && c.Foreground }},
		{"flags between args", []string{"b-1", "--region", "eu-west-1", "/m"}, func(c *MountConfig) bool { return c.S3.Region == "eu-west-1" && c.MountPoint == "/m" }},
		{"double dash ends flags", []string{"--", "b-1", "/m"}, func(c *MountConfig) bool { return c.S3.Bucket == "b-1" }},
		{"--region", []string{"b-1", "/m", "--region=us-west-2"}, func(c *MountConfig) bool { return c.S3.Region == "us-west-2" }},
		{"--endpoint-url", []string{"b-1", "/m", "--endpoint-url", "http://127.0.0.1:9000"}, func(c *MountConfig) bool { return c.S3.EndpointURL == "http://127.0.0.1:9000" }},
		{"--force-path-style", []string{"b-1", "/m", "--force-path-style"}, func(c *MountConfig) bool { return c.S3.ForcePathStyle }},
		{"--read-only", []string{"b-1", "/m", "--read-only"}, func(c *MountConfig) bool { return c.FS.ReadOnly && c.FUSE.ReadOnly }},
		{"--allow-delete", []string{"b-1", "/m", "--allow-delete"}, func(c *MountConfig) bool { return c.FS.AllowDelete }},
		{"--allow-overwrite", []string{"b-1", "/m", "--allow-overwrite"}, func(c *MountConfig) bool { return c.FS.AllowOverwrite }},
		{"--auto-unmount", []string{"b-1", "/m", "--auto-unmount"}, func(c *MountConfig) bool { return c.FUSE.AutoUnmount }},
		{"--allow-root", []string{"b-1", "/m", "--allow-root"}, func(c *MountConfig) bool { return c.FUSE.AllowRoot && !c.FUSE.AllowOther }},
		{"--allow-other", []string{"b-1", "/m", "--allow-other"}, func(c *MountConfig) bool { return c.FUSE.AllowOther && !c.FUSE.AllowRoot }},
		{"--uid --gid", []string{"b-1", "/m", "--uid", "0", "--gid=4242"}, func(c *MountConfig) bool { return c.FS.UID == 0 && c.FS.GID == 4242 }},
		{"--dir-mode 0700", []string{"b-1", "/m", "--dir-mode", "0700"}, func(c *MountConfig) bool { return c.FS.DirMode == 0o700 }},
		{"--dir-mode 750", []string{"b-1", "/m", "--dir-mode", "750"}, func(c *MountConfig) bool { return c.FS.DirMode == 0o750 }},
		{"--file-mode 0o600", []string{"b-1", "/m", "--file-mode=0o600"}, func(c *MountConfig) bool { return c.FS.FileMode == 0o600 }},
		{"--file-mode 0", []string{"b-1", "/m", "--file-mode", "0"}, func(c *MountConfig) bool { return c.FS.FileMode == 0 }},
		{"-f", []string{"b-1", "/m", "-f"}, func(c *MountConfig) bool { return c.Foreground }},
		{"--foreground", []string{"b-1", "/m", "--foreground"}, func(c *MountConfig) bool { return c.Foreground }},
		{"--profile", []string{"b-1", "/m", "--profile", "dev"}, func(c *MountConfig) bool { return c.S3.Profile == "dev" && len(c.Warnings) == 0 }},
		{"--no-sign-request", []string{"b-1", "/m", "--no-sign-request"}, func(c *MountConfig) bool { return c.S3.NoSignRequest }},
		{"--profile ignored without signing", []string{"b-1", "/m", "--no-sign-request", "--profile", "dev"}, func(c *MountConfig) bool {
			return len(c.Warnings) == 1 && strings.Contains(c.Warnings[0], "--profile is ignored")
		}},
		{"--requester-pays", []string{"b-1", "/m", "--requester-pays"}, func(c *MountConfig) bool { return c.S3.RequesterPays }},
		{"--expected-bucket-owner", []string{"b-1", "/m", "--expected-bucket-owner", "111122223333"}, func(c *MountConfig) bool { return c.S3.ExpectedBucketOwner == "111122223333" }},
		{"--storage-class", []string{"b-1", "/m", "--storage-class", "INTELLIGENT_TIERING"}, func(c *MountConfig) bool { return c.S3.StorageClass == "INTELLIGENT_TIERING" }},
		{"--sse AES256", []string{"b-1", "/m", "--sse", "AES256"}, func(c *MountConfig) bool { return c.S3.SSE == "AES256" }},
		{"--sse aws:kms", []string{"b-1", "/m", "--sse", "aws:kms", "--sse-kms-key-id", kms}, func(c *MountConfig) bool { return c.S3.SSE == "aws:kms" && c.S3.SSEKMSKeyID == kms }},
		{"--sse aws:kms:dsse", []string{"b-1", "/m", "--sse=aws:kms:dsse", "--sse-kms-key-id=" + kms}, func(c *MountConfig) bool { return c.S3.SSE == "aws:kms:dsse" && c.S3.SSEKMSKeyID == kms }},
		{"--upload-checksums off", []string{"b-1", "/m", "--upload-checksums", "off"}, func(c *MountConfig) bool { return c.S3.UploadChecksums == "off" }},
		{"--upload-checksums crc32c", []string{"b-1", "/m", "--upload-checksums", "crc32c"}, func(c *MountConfig) bool { return c.S3.UploadChecksums == "crc32c" }},
		{"--part-size", []string{"b-1", "/m", "--part-size", "16777216"}, func(c *MountConfig) bool { return c.FS.ReadPartSize == 16<<20 && c.FS.WritePartSize == 16<<20 }},
		{"--read-part-size", []string{"b-1", "/m", "--read-part-size", "1048576"}, func(c *MountConfig) bool { return c.FS.ReadPartSize == 1<<20 && c.FS.WritePartSize == 8<<20 }},
		{"--write-part-size", []string{"b-1", "/m", "--write-part-size", "5242880"}, func(c *MountConfig) bool { return c.FS.ReadPartSize == 8<<20 && c.FS.WritePartSize == 5<<20 }},
		{"--max-threads", []string{"b-1", "/m", "--max-threads", "64"}, func(c *MountConfig) bool { return c.FS.MaxThreads == 64 && c.S3.MaxConnections == 64 }},
		{"--memory-target", []string{"b-1", "/m", "--memory-target", "512"}, func(c *MountConfig) bool { return c.FS.MemoryTarget == 512<<20 }},
		{"--memory-target default", []string{"b-1", "/m"}, func(c *MountConfig) bool { return c.FS.MemoryTarget == 0 }},
		{"--ca-bundle", []string{"b-1", "/m", "--ca-bundle", "ca.pem"}, func(c *MountConfig) bool { return c.S3.CABundle == filepath.Join(cwd, "ca.pem") }},
		{"--user-agent-prefix", []string{"b-1", "/m", "--user-agent-prefix", "myapp/1.0"}, func(c *MountConfig) bool { return c.S3.UserAgentPrefix == "myapp/1.0" }},
		{"-l", []string{"b-1", "/m", "-l", "/var/log/b"}, func(c *MountConfig) bool { return c.LogDirectory == "/var/log/b" }},
		{"-lDIR", []string{"b-1", "/m", "-l/var/log/b"}, func(c *MountConfig) bool { return c.LogDirectory == "/var/log/b" }},
		{"--log-directory relative", []string{"b-1", "/m", "--log-directory=logs"}, func(c *MountConfig) bool { return c.LogDirectory == filepath.Join(cwd, "logs") }},
		{"-d", []string{"b-1", "/m", "-d"}, func(c *MountConfig) bool { return c.Debug && c.FUSE.Debug }},
		{"--debug", []string{"b-1", "/m", "--debug"}, func(c *MountConfig) bool { return c.Debug }},
		{"short cluster -fd", []string{"-fd", "b-1", "/m"}, func(c *MountConfig) bool { return c.Foreground && c.Debug }},
		{"short cluster with value -fl DIR", []string{"-fl", "/logs", "b-1", "/m"}, func(c *MountConfig) bool { return c.Foreground && c.LogDirectory == "/logs" }},
		{"--debug-crt is a no-op", []string{"b-1", "/m", "--debug-crt"}, func(c *MountConfig) bool { return !c.Debug }},
		{"--no-log", []string{"b-1", "/m", "--no-log"}, func(c *MountConfig) bool { return c.NoLog }},
		{"bool flags may repeat", []string{"b-1", "/m", "-f", "--foreground"}, func(c *MountConfig) bool { return c.Foreground }},
		{"read-only with allow-root", []string{"b-1", "/m", "--read-only", "--allow-root"}, func(c *MountConfig) bool { return c.FS.ReadOnly && c.FUSE.AllowRoot }},
		{"dash value is an argument", []string{"b-1", "-"}, func(c *MountConfig) bool { return strings.HasSuffix(c.MountPoint, "/-") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.args...)
			if !tt.ok(c) {
				t.Errorf("ParseMount(%q) gave unexpected config %+v", tt.args, c)
			}
		})
	}
}

func TestParseMountTTLs(t *testing.T) {
	const year100 = 100 * 365 * 24 * time.Hour
	tests := []struct {
		args           []string
		dir, file, neg time.Duration
		warning        bool
	}{
		{nil, time.Second, 100 * time.Millisecond, 100 * time.Millisecond, false},
		{[]string{"--metadata-ttl", "minimal"}, time.Second, 100 * time.Millisecond, 100 * time.Millisecond, false},
		{[]string{"--metadata-ttl", "0"}, time.Second, 100 * time.Millisecond, 100 * time.Millisecond, true},
		{[]string{"--metadata-ttl", "indefinite"}, year100, year100, year100, false},
		{[]string{"--metadata-ttl", "60"}, time.Minute, time.Minute, time.Minute, false},
		{[]string{"--metadata-ttl=3153600000"}, year100, year100, year100, false},
		{[]string{"--metadata-ttl", "60", "--negative-metadata-ttl", "5"}, time.Minute, time.Minute, 5 * time.Second, false},
		{[]string{"--metadata-ttl", "60", "--negative-metadata-ttl", "minimal"}, time.Minute, time.Minute, 100 * time.Millisecond, false},
		{[]string{"--negative-metadata-ttl", "indefinite"}, time.Second, 100 * time.Millisecond, year100, false},
		{[]string{"--negative-metadata-ttl", "30"}, time.Second, 100 * time.Millisecond, 30 * time.Second, false},
		{[]string{"--metadata-ttl", "indefinite", "--negative-metadata-ttl", "10"}, year100, year100, 10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := mustParse(t, append([]string{"b-1", "/m"}, tt.args...)...)
			if c.FS.DirTTL != tt.dir || c.FS.FileTTL != tt.file || c.FS.NegativeTTL != tt.neg {
				t.Errorf("core TTLs = %v/%v/%v, want %v/%v/%v", c.FS.DirTTL, c.FS.FileTTL, c.FS.NegativeTTL, tt.dir, tt.file, tt.neg)
			}
			if c.FUSE.DirTTL != tt.dir || c.FUSE.FileTTL != tt.file || c.FUSE.NegativeTTL != tt.neg {
				t.Errorf("kernel TTLs = %v/%v/%v, want %v/%v/%v", c.FUSE.DirTTL, c.FUSE.FileTTL, c.FUSE.NegativeTTL, tt.dir, tt.file, tt.neg)
			}
			if got := len(c.Warnings) > 0; got != tt.warning {
				t.Errorf("warnings = %q, want some: %v", c.Warnings, tt.warning)
			}
		})
	}
}

func TestParseMountErrors(t *testing.T) {
	const kms = "arn:aws:kms:eu-west-1:111122223333:key/abc"
	tests := []struct {
		name string
		args []string
		want string // the whole error message, or a part of it when it ends with "..."
	}{
		{"no args", nil, "missing BUCKET and DIRECTORY arguments: usage: bucketfs mount BUCKET DIRECTORY [OPTIONS] (see 'bucketfs mount --help')"},
		{"one arg", []string{"b-1"}, "missing DIRECTORY argument: ..."},
		{"three args", []string{"b-1", "/m", "extra"}, `unexpected argument "extra": ...`},
		{"unknown long flag", []string{"b-1", "/m", "--foo"}, "unknown flag --foo (see 'bucketfs mount --help')"},
		{"unknown long flag with value", []string{"b-1", "/m", "--foo=1"}, "unknown flag --foo (see 'bucketfs mount --help')"},
		{"unknown short flag", []string{"b-1", "/m", "-x"}, "unknown flag -x (see 'bucketfs mount --help')"},
		{"unknown short in cluster", []string{"b-1", "/m", "-fx"}, "unknown flag -x (see 'bucketfs mount --help')"},
		{"unsupported mount-s3 flag", []string{"b-1", "/m", "--cache", "/tmp/c"}, "--cache is a mount-s3 flag that bucketfs does not support (see 'bucketfs mount --help')"},
		{"missing value at end", []string{"b-1", "/m", "--region"}, "flag --region needs a value (--region REGION)"},
		{"missing value before flag", []string{"b-1", "/m", "--uid", "--read-only"}, "flag --uid needs a value (--uid UID)"},
		{"missing short value", []string{"b-1", "/m", "-l"}, "flag --log-directory needs a value (--log-directory DIRECTORY)"},
		{"value for bool flag", []string{"b-1", "/m", "--read-only=true"}, "flag --read-only does not take a value"},
		{"value flag twice", []string{"b-1", "/m", "--region", "a", "--region", "b"}, "--region given more than once"},
		{"bad bucket uppercase", []string{"My-Bucket", "/m"}, `invalid bucket name "My-Bucket": ...`},
		{"bad bucket underscore", []string{"my_bucket", "/m"}, `invalid bucket name "my_bucket": ...`},
		{"bad bucket short", []string{"ab", "/m"}, `invalid bucket name "ab": too short ...`},
		{"bad bucket uri", []string{"s3://", "/m"}, "missing bucket name in BUCKET ..."},
		{"bucket prefix without slash", []string{"b-1/p", "/m"}, `invalid BUCKET "b-1/p": the prefix "p" must end with '/'`},
		{"uri prefix without slash", []string{"s3://b-1/p/q", "/m"}, `invalid BUCKET "s3://b-1/p/q": the prefix "p/q" must end with '/'`},
		{"prefix without slash", []string{"b-1", "/m", "--prefix", "p"}, `--prefix must end with '/' (got "p")`},
		{"prefix twice", []string{"b-1/p/", "/m", "--prefix", "q/"}, `a prefix in BUCKET ("b-1/p/") and --prefix cannot be used together`},
		{"uri prefix and --prefix", []string{"s3://b-1/p/", "/m", "--prefix=q/"}, `a prefix in BUCKET ("s3://b-1/p/") and --prefix cannot be used together`},
		{"empty mount point", []string{"b-1", ""}, "empty path"},
		{"allow-root and allow-other", []string{"b-1", "/m", "--allow-root", "--allow-other"}, "--allow-root and --allow-other cannot be used together ..."},
		{"read-only and allow-delete", []string{"b-1", "/m", "--read-only", "--allow-delete"}, "--read-only and --allow-delete cannot be used together"},
		{"read-only and allow-overwrite", []string{"b-1", "/m", "--read-only", "--allow-overwrite"}, "--read-only and --allow-overwrite cannot be used together"},
		{"uid not a number", []string{"b-1", "/m", "--uid", "abc"}, `invalid value "abc" for --uid: must be a number`},
		{"uid negative", []string{"b-1", "/m", "--uid=-1"}, `invalid value "-1" for --uid: must be a number`},
		{"uid too big", []string{"b-1", "/m", "--uid", "4294967296"}, `invalid value "4294967296" for --uid: must be a number`},
		{"uid -1 as unsigned", []string{"b-1", "/m", "--uid", "4294967295"}, `invalid value "4294967295" for --uid: must be a number`},
		{"gid not a number", []string{"b-1", "/m", "--gid", "staff"}, `invalid value "staff" for --gid: must be a number`},
		{"dir-mode not octal", []string{"b-1", "/m", "--dir-mode", "0789"}, `invalid value "0789" for --dir-mode: must be an octal number like 0755`},
		{"file-mode too big", []string{"b-1", "/m", "--file-mode", "4755"}, `invalid value "4755" for --file-mode: only user/group/other permission bits (at most 0777) are supported`},
		{"endpoint not a url", []string{"b-1", "/m", "--endpoint-url", "localhost:9000"}, `invalid value "localhost:9000" for --endpoint-url: must be an http:// or https:// URL like https://s3.example.com`},
		{"endpoint credentials redacted", []string{"b-1", "/m", "--endpoint-url", "ftp://user:secret@host"}, `invalid value "ftp://REDACTED@host" for --endpoint-url: ...`},
		{"sse unknown", []string{"b-1", "/m", "--sse", "aes256"}, `invalid value "aes256" for --sse: must be one of AES256, aws:kms, aws:kms:dsse`},
		{"kms key without sse", []string{"b-1", "/m", "--sse-kms-key-id", kms}, "--sse-kms-key-id requires --sse aws:kms or --sse aws:kms:dsse"},
		{"kms key with AES256", []string{"b-1", "/m", "--sse", "AES256", "--sse-kms-key-id", kms}, "--sse-kms-key-id requires --sse aws:kms or --sse aws:kms:dsse"},
		{"kms key alias", []string{"b-1", "/m", "--sse", "aws:kms", "--sse-kms-key-id", "alias/mine"}, `invalid value "alias/mine" for --sse-kms-key-id: must be a KMS key ARN ...`},
		{"checksums unknown", []string{"b-1", "/m", "--upload-checksums", "md5"}, `invalid value "md5" for --upload-checksums: must be one of crc32c, off`},
		{"ttl garbage", []string{"b-1", "/m", "--metadata-ttl", "forever"}, `invalid value "forever" for --metadata-ttl: must be a number of seconds, 'indefinite' or 'minimal'`},
		{"ttl fraction", []string{"b-1", "/m", "--metadata-ttl", "0.5"}, `invalid value "0.5" for --metadata-ttl: ...`},
		{"ttl too long", []string{"b-1", "/m", "--metadata-ttl", "3153600001"}, `invalid value "3153600001" for --metadata-ttl: must be at most 3153600000 seconds ...`},
		{"negative ttl garbage", []string{"b-1", "/m", "--negative-metadata-ttl=x"}, `invalid value "x" for --negative-metadata-ttl: ...`},
		{"part size not a number", []string{"b-1", "/m", "--part-size", "8M"}, `invalid value "8M" for --part-size: must be a positive number of bytes`},
		{"part size zero", []string{"b-1", "/m", "--read-part-size", "0"}, `invalid value "0" for --read-part-size: must be a positive number of bytes`},
		{"part size too small for writes", []string{"b-1", "/m", "--part-size", "1048576"}, `invalid value "1048576" for --part-size: must be at least 5242880 (5 MiB), S3's minimum part size for uploads`},
		{"write part size too small", []string{"b-1", "/m", "--write-part-size", "5242879"}, `invalid value "5242879" for --write-part-size: must be at least 5242880 ...`},
		{"write part size too big", []string{"b-1", "/m", "--write-part-size", "5368709121"}, `invalid value "5368709121" for --write-part-size: must be at most 5368709120 ...`},
		{"part-size with read-part-size", []string{"b-1", "/m", "--part-size", "8388608", "--read-part-size", "1048576"}, "--part-size cannot be used with --read-part-size or --write-part-size"},
		{"max threads zero", []string{"b-1", "/m", "--max-threads", "0"}, `invalid value "0" for --max-threads: must be a positive number`},
		{"memory target small", []string{"b-1", "/m", "--memory-target", "95"}, `invalid value "95" for --memory-target: must be at least 96 (MiB)`},
		{"memory target garbage", []string{"b-1", "/m", "--memory-target", "1GiB"}, `invalid value "1GiB" for --memory-target: must be a positive number`},
		{"max threads garbage", []string{"b-1", "/m", "--max-threads", "many"}, `invalid value "many" for --max-threads: must be a positive number`},
		{"empty region", []string{"b-1", "/m", "--region="}, `invalid value "" for --region: must not be empty`},
		{"empty log directory", []string{"b-1", "/m", "--log-directory", ""}, `invalid value "" for --log-directory: must not be empty`},
		{"no-log with debug", []string{"b-1", "/m", "--no-log", "-d"}, "--no-log cannot be used with --debug"},
		{"no-log with debug-crt", []string{"b-1", "/m", "--no-log", "--debug-crt"}, "--no-log cannot be used with --debug-crt"},
		{"no-log with log directory", []string{"b-1", "/m", "--no-log", "-l", "/logs"}, "--no-log cannot be used with --debug or --log-directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseMount(tt.args)
			if err == nil {
				t.Fatalf("ParseMount(%q) = %+v, want error %q", tt.args, c, tt.want)
			}
			if !IsUsage(err) {
				t.Errorf("error %v is not a usage error", err)
			}
			matchMessage(t, err.Error(), tt.want)
		})
	}
}

// matchMessage compares an error message with want: equal, or starting with
// want's text when want ends with "...". Messages must be one line.
func matchMessage(t *testing.T, got, want string) {
	t.Helper()
	if strings.Contains(got, "\n") {
		t.Errorf("message is not one line: %q", got)
	}
	if head, ok := strings.CutSuffix(want, "..."); ok {
		if !strings.HasPrefix(got, head) {
			t.Errorf("message = %q, want it to start with %q", got, head)
		}
		return
	}
	if got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestParseMountHelpAndVersion(t *testing.T) {
	tests := []struct {
		args []string
		want error
	}{
		{[]string{"--help"}, ErrHelp},
		{[]string{"-h"}, ErrHelp},
		{[]string{"b-1", "/m", "--read-only", "--help"}, ErrHelp},
		{[]string{"--version"}, ErrVersion},
		{[]string{"-V"}, ErrVersion},
		{[]string{"-fV"}, ErrVersion},
	}
	for _, tt := range tests {
		if _, err := ParseMount(tt.args); !errors.Is(err, tt.want) {
			t.Errorf("ParseMount(%q) error = %v, want %v", tt.args, err, tt.want)
		}
	}
}
