// Package mountopt is the table of "bucketfs mount" flags and the
// translation of option lists written in other forms into those flags:
//
//   - the "-o" string of mount(8) and /etc/fstab, as the mount.bucketfs
//     helper receives it: "allow-delete,region=us-east-1,_netdev,nofail,ro"
//     (FromFstab);
//   - the mountOptions of a Kubernetes PersistentVolume, one option per item:
//     "allow-delete", "region us-east-1", "uid=1000", "--prefix some/"
//     (ParseList, used by internal/csi, which adds its own policy).
//
// Both end as "--name" / "--name=value" words for the "bucketfs mount"
// command line, so bucketfs's own parser (internal/cli) checks the values
// with its usual messages. This package is a leaf: it imports the standard
// library only, so the CSI driver can use it without linking the file system.
package mountopt

// Flag describes one "bucketfs mount" flag: its names, whether it takes a
// value (Arg is the value's placeholder, "" for a boolean flag), one line of
// help and the help section it is listed in.
type Flag struct {
	Long    string
	Short   byte
	Arg     string
	Help    string
	Section string
}

// Help sections, in the order "bucketfs mount --help" prints them (mount-s3's grouping).
const (
	SecGeneral = "Options"
	SecBucket  = "Bucket options"
	SecCreds   = "AWS credentials options"
	SecMount   = "Mount options"
	SecClient  = "Client options"
	SecCache   = "Caching options"
	SecLog     = "Logging options"
	SecAdv     = "Advanced options"
)

// Sections lists the help sections in order.
var Sections = []string{SecGeneral, SecBucket, SecCreds, SecMount, SecClient, SecCache, SecLog, SecAdv}

// Mount is every flag "bucketfs mount" accepts.
var Mount = []Flag{
	{"foreground", 'f', "", "Run as foreground process (log to stderr, exit when unmounted)", SecGeneral},
	{"help", 'h', "", "Print help", SecGeneral},
	{"version", 'V', "", "Print version", SecGeneral},

	{"prefix", 0, "PREFIX", "Prefix inside the bucket to mount, ending in '/' [default: mount the entire bucket]", SecBucket},
	{"region", 0, "REGION", "AWS region of the bucket [default: auto-detect region]", SecBucket},
	{"endpoint-url", 0, "URL", "S3 endpoint URL [default: auto-detect endpoint]", SecBucket},
	{"force-path-style", 0, "", "Force path-style addressing", SecBucket},
	{"requester-pays", 0, "", "Set the 'x-amz-request-payer' to 'requester' on S3 requests", SecBucket},
	{"storage-class", 0, "CLASS", "Set the storage class for new objects", SecBucket},
	{"expected-bucket-owner", 0, "ACCOUNT_ID", "Account ID of the expected bucket owner; requests fail with access denied otherwise", SecBucket},
	{"sse", 0, "ALGORITHM", "Server-side encryption for new objects: AES256, aws:kms or aws:kms:dsse", SecBucket},
	{"sse-kms-key-id", 0, "KMS_KEY_ARN", "KMS key ARN for --sse aws:kms or aws:kms:dsse", SecBucket},
	{"upload-checksums", 0, "ALGORITHM", "Checksum algorithm for uploads: crc32c or off [default: crc32c]", SecBucket},

	{"no-sign-request", 0, "", "Do not sign requests; credentials are not loaded", SecCreds},
	{"profile", 0, "PROFILE", "Use a specific profile from your credential file", SecCreds},

	{"read-only", 0, "", "Mount file system in read-only mode", SecMount},
	{"allow-delete", 0, "", "Allow delete operations on file system", SecMount},
	{"allow-overwrite", 0, "", "Allow overwrite operations on file system", SecMount},
	{"posix", 0, "", "POSIX mode: --allow-delete --allow-overwrite --allow-edit --allow-rename, and directories, symlinks, modes, owners and times kept in the bucket", SecMount},
	{"allow-edit", 0, "", "Allow appending, editing in place and truncating files (staged on local disk, committed conditionally at close)", SecMount},
	{"allow-rename", 0, "", "Allow renaming files and directories (a conditional server-side copy, then a delete)", SecMount},
	{"max-rename-keys", 0, "N", "Most keys a directory rename copies; more is EXDEV [default: 10000]", SecMount},
	{"auto-unmount", 0, "", "Automatically unmount on exit", SecMount},
	{"allow-root", 0, "", "Allow root user to access file system", SecMount},
	{"allow-other", 0, "", "Allow other users, including root, to access file system", SecMount},
	{"uid", 0, "UID", "Owner UID [default: current user's UID]", SecMount},
	{"gid", 0, "GID", "Owner GID [default: current user's GID]", SecMount},
	{"dir-mode", 0, "MODE", "Directory permissions, octal [default: 0755]", SecMount},
	{"file-mode", 0, "MODE", "File permissions, octal [default: 0644]", SecMount},

	{"max-threads", 0, "N", "Maximum number of concurrent requests [default: 16]", SecClient},
	{"part-size", 0, "SIZE", "Part size for multi-part GET and PUT in bytes [default: 8388608]", SecClient},
	{"read-part-size", 0, "SIZE", "Part size for GET in bytes [default: 8388608]", SecClient},
	{"write-part-size", 0, "SIZE", "Part size for multi-part PUT in bytes, at least 5 MiB [default: 8388608]", SecClient},
	{"memory-target", 0, "MiB", "Memory the process stays within, in MiB (at least 96); buffers get all but 56 MiB [default: 1/8 of memory, 96-512 MiB]", SecClient},
	{"ca-bundle", 0, "PATH", "CA certificate bundle (PEM) to verify HTTPS with [default: system trust store]", SecClient},

	{"metadata-ttl", 0, "TTL", "TTL (time-to-live) of cached metadata: SECONDS, indefinite or minimal [default: minimal]", SecCache},
	{"negative-metadata-ttl", 0, "TTL", "TTL of cached negative lookups: SECONDS, indefinite or minimal [default: as --metadata-ttl]", SecCache},
	{"cache-dir", 0, "DIRECTORY", "Where files being edited are staged (--posix, --allow-edit), in a private subdirectory removed at unmount [default: $TMPDIR]", SecCache},
	{"max-cache-size", 0, "MiB", "Most local disk files being edited may use; a write past it fails with ENOSPC [default: keep 5% of the disk free]", SecCache},

	{"log-directory", 'l', "DIRECTORY", "Write log files to a directory [default: no log files; stderr with -f]", SecLog},
	{"debug", 'd', "", "Enable debug logging", SecLog},
	{"debug-crt", 0, "", "Accepted for mount-s3 compatibility; no effect", SecLog},
	{"no-log", 0, "", "Disable all logging", SecLog},

	{"user-agent-prefix", 0, "PREFIX", "String prepended to the User-Agent header of all S3 requests", SecAdv},
}

// UnsupportedMountS3 names mount-s3 flags bucketfs does not implement; they
// get a clearer error than an unknown flag.
var UnsupportedMountS3 = map[string]bool{
	"transfer-acceleration": true, "dual-stack": true, "bucket-type": true,
	"incremental-upload": true, "maximum-throughput-gbps": true,
	"cache": true, "cache-xz": true, "cache-block-size": true,
	"log-metrics": true, "otlp-endpoint": true, "otlp-export-interval": true,
	"infer-content-type": true, "bind": true,
}

// Lookup returns the mount flag with the long name name.
func Lookup(name string) (Flag, bool) {
	for _, f := range Mount {
		if f.Long == name {
			return f, true
		}
	}
	return Flag{}, false
}
