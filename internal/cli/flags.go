package cli

import (
	"fmt"
	"strings"
)

// flagSpec describes one mount flag: its names, whether it takes a value
// (arg is the value's placeholder, "" for a boolean flag), one line of help
// and the help section it is listed in.
type flagSpec struct {
	long    string
	short   byte
	arg     string
	help    string
	section string
}

// Help sections, in the order they are printed (mount-s3's grouping).
const (
	secGeneral = "Options"
	secBucket  = "Bucket options"
	secCreds   = "AWS credentials options"
	secMount   = "Mount options"
	secClient  = "Client options"
	secCache   = "Caching options"
	secLog     = "Logging options"
	secAdv     = "Advanced options"
)

var sections = []string{secGeneral, secBucket, secCreds, secMount, secClient, secCache, secLog, secAdv}

// mountFlags is every flag "bucketfs mount" accepts.
var mountFlags = []flagSpec{
	{"foreground", 'f', "", "Run as foreground process (log to stderr, exit when unmounted)", secGeneral},
	{"help", 'h', "", "Print help", secGeneral},
	{"version", 'V', "", "Print version", secGeneral},

	{"prefix", 0, "PREFIX", "Prefix inside the bucket to mount, ending in '/' [default: mount the entire bucket]", secBucket},
	{"region", 0, "REGION", "AWS region of the bucket [default: auto-detect region]", secBucket},
	{"endpoint-url", 0, "URL", "S3 endpoint URL [default: auto-detect endpoint]", secBucket},
	{"force-path-style", 0, "", "Force path-style addressing", secBucket},
	{"requester-pays", 0, "", "Set the 'x-amz-request-payer' to 'requester' on S3 requests", secBucket},
	{"storage-class", 0, "CLASS", "Set the storage class for new objects", secBucket},
	{"expected-bucket-owner", 0, "ACCOUNT_ID", "Account ID of the expected bucket owner; requests fail with access denied otherwise", secBucket},
	{"sse", 0, "ALGORITHM", "Server-side encryption for new objects: AES256, aws:kms or aws:kms:dsse", secBucket},
	{"sse-kms-key-id", 0, "KMS_KEY_ARN", "KMS key ARN for --sse aws:kms or aws:kms:dsse", secBucket},
	{"upload-checksums", 0, "ALGORITHM", "Checksum algorithm for uploads: crc32c or off [default: crc32c]", secBucket},

	{"no-sign-request", 0, "", "Do not sign requests; credentials are not loaded", secCreds},
	{"profile", 0, "PROFILE", "Use a specific profile from your credential file", secCreds},

	{"read-only", 0, "", "Mount file system in read-only mode", secMount},
	{"allow-delete", 0, "", "Allow delete operations on file system", secMount},
	{"allow-overwrite", 0, "", "Allow overwrite operations on file system", secMount},
	{"auto-unmount", 0, "", "Automatically unmount on exit", secMount},
	{"allow-root", 0, "", "Allow root user to access file system", secMount},
	{"allow-other", 0, "", "Allow other users, including root, to access file system", secMount},
	{"uid", 0, "UID", "Owner UID [default: current user's UID]", secMount},
	{"gid", 0, "GID", "Owner GID [default: current user's GID]", secMount},
	{"dir-mode", 0, "MODE", "Directory permissions, octal [default: 0755]", secMount},
	{"file-mode", 0, "MODE", "File permissions, octal [default: 0644]", secMount},

	{"max-threads", 0, "N", "Maximum number of concurrent requests [default: 16]", secClient},
	{"part-size", 0, "SIZE", "Part size for multi-part GET and PUT in bytes [default: 8388608]", secClient},
	{"read-part-size", 0, "SIZE", "Part size for GET in bytes [default: 8388608]", secClient},
	{"write-part-size", 0, "SIZE", "Part size for multi-part PUT in bytes, at least 5 MiB [default: 8388608]", secClient},
	{"ca-bundle", 0, "PATH", "CA certificate bundle (PEM) to verify HTTPS with [default: system trust store]", secClient},

	{"metadata-ttl", 0, "TTL", "TTL (time-to-live) of cached metadata: SECONDS, indefinite or minimal [default: minimal]", secCache},
	{"negative-metadata-ttl", 0, "TTL", "TTL of cached negative lookups: SECONDS, indefinite or minimal [default: as --metadata-ttl]", secCache},

	{"log-directory", 'l', "DIRECTORY", "Write log files to a directory [default: no log files; stderr with -f]", secLog},
	{"debug", 'd', "", "Enable debug logging", secLog},
	{"debug-crt", 0, "", "Accepted for mount-s3 compatibility; no effect", secLog},
	{"no-log", 0, "", "Disable all logging", secLog},

	{"user-agent-prefix", 0, "PREFIX", "String prepended to the User-Agent header of all S3 requests", secAdv},
}

// unsupportedMountS3Flags are mount-s3 flags bucketfs does not implement; they
// get a clearer error than an unknown flag.
var unsupportedMountS3Flags = map[string]bool{
	"transfer-acceleration": true, "dual-stack": true, "bucket-type": true,
	"incremental-upload": true, "maximum-throughput-gbps": true, "memory-target": true,
	"cache": true, "max-cache-size": true, "cache-xz": true, "cache-block-size": true,
	"log-metrics": true, "otlp-endpoint": true, "otlp-export-interval": true,
	"infer-content-type": true, "bind": true,
}

// flagTable indexes a flag list by long and short name.
// unsupported names flags to refuse with a clearer error than "unknown".
type flagTable struct {
	long        map[string]*flagSpec
	short       map[byte]*flagSpec
	unsupported map[string]bool
}

func newFlagTable(specs []flagSpec, unsupported map[string]bool) flagTable {
	t := flagTable{long: map[string]*flagSpec{}, short: map[byte]*flagSpec{}, unsupported: unsupported}
	for i := range specs {
		s := &specs[i]
		t.long[s.long] = s
		if s.short != 0 {
			t.short[s.short] = s
		}
	}
	return t
}

// formatFlags renders flags as help lines grouped by section, each flag on
// one line with its help aligned in a column.
func formatFlags(specs []flagSpec) string {
	names := make([]string, len(specs))
	width := 0
	for i, s := range specs {
		n := "    "
		if s.short != 0 {
			n = fmt.Sprintf("-%c, ", s.short)
		}
		n += "--" + s.long
		if s.arg != "" {
			n += " " + s.arg
		}
		names[i] = n
		width = max(width, len(n))
	}
	var b strings.Builder
	for _, sec := range sections {
		first := true
		for i, s := range specs {
			if s.section != sec {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s:\n", sec)
				first = false
			}
			fmt.Fprintf(&b, "  %-*s  %s\n", width, names[i], s.help)
		}
	}
	return b.String()
}

const topUsage = `Usage:
  bucketfs mount BUCKET DIRECTORY [OPTIONS]   Mount an S3 bucket (or a prefix of it) at DIRECTORY
  bucketfs unmount DIRECTORY                  Unmount it (alias: umount)
  bucketfs --version                          Print the version
  bucketfs help [mount|unmount]               Print help

Run 'bucketfs mount --help' for the mount options (the same as mount-s3's).
`

const mountUsageHead = `Mount an S3 bucket at a directory (Mountpoint for Amazon S3 compatible).

Usage: bucketfs mount [OPTIONS] BUCKET DIRECTORY

Arguments:
  BUCKET     Bucket name, "bucket/prefix/" or an S3 URI "s3://bucket/prefix/"
  DIRECTORY  Existing directory to mount the bucket at

Without -f the command returns once the mount is live; the file system keeps
running in the background until unmounted ('bucketfs unmount DIRECTORY').
`

// MountHelp is the text of "bucketfs mount --help".
func MountHelp() string {
	return mountUsageHead + formatFlags(mountFlags)
}

// unmountFlags is every flag "bucketfs unmount" accepts.
var unmountFlags = []flagSpec{
	{"lazy", 'z', "", "Detach the mount now, clean up when it is no longer busy", secGeneral},
	{"help", 'h', "", "Print help", secGeneral},
}

// UnmountHelp is the text of "bucketfs unmount --help".
func UnmountHelp() string {
	return "Unmount a bucketfs file system.\n\nUsage: bucketfs unmount [OPTIONS] DIRECTORY\n" +
		"(alias: bucketfs umount)\n" + formatFlags(unmountFlags)
}

// TopHelp is the text of "bucketfs help".
func TopHelp() string { return topUsage }
