package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of the mount flags.
const (
	DefaultDirMode    = 0o755
	DefaultFileMode   = 0o644
	DefaultPartSize   = 8 << 20 // 8 MiB, mount-s3's default for GET and PUT parts
	MinWritePartSize  = 5 << 20 // S3's minimum size of every part but the last
	MaxWritePartSize  = 5 << 30 // S3's maximum part size
	DefaultMaxThreads = 16

	// MinimalDirTTL, MinimalFileTTL and MinimalNegativeTTL are the TTLs of
	// "--metadata-ttl minimal" (the default): as little caching as possible,
	// but not zero, because Linux behaves badly with zero TTLs (every readdir
	// entry would be looked up again at once). Directories change less often
	// on the S3 side and are checked more often, hence the longer TTL.
	MinimalDirTTL      = time.Second
	MinimalFileTTL     = 100 * time.Millisecond
	MinimalNegativeTTL = MinimalFileTTL

	// IndefiniteTTL is what "indefinite" means: 100 years, practically forever
	// but far from overflowing when added to time.Now. It is also the largest
	// number of seconds a TTL flag accepts.
	IndefiniteTTL = 100 * 365 * 24 * time.Hour
)

// TTL is one parsed --metadata-ttl / --negative-metadata-ttl value.
type TTL struct {
	Minimal    bool          // "minimal" (and "0", which mount-s3 maps to it)
	Indefinite bool          // "indefinite"
	Duration   time.Duration // N seconds, when neither Minimal nor Indefinite
}

// ttlHint lists the accepted forms of a TTL flag.
const ttlHint = "must be a number of seconds, 'indefinite' or 'minimal'"

// parseTTL parses "minimal", "indefinite" or a whole number of seconds.
// "0" means "minimal", as in mount-s3 (which deprecates it with a warning).
func parseTTL(flag, v string) (TTL, error) {
	switch v {
	case "minimal":
		return TTL{Minimal: true}, nil
	case "indefinite":
		return TTL{Indefinite: true}, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return TTL{}, invalid(flag, v, ttlHint)
	}
	if n > uint64(IndefiniteTTL/time.Second) {
		return TTL{}, invalid(flag, v, fmt.Sprintf("must be at most %d seconds (~100 years), 'indefinite' or 'minimal'",
			uint64(IndefiniteTTL/time.Second)))
	}
	if n == 0 {
		return TTL{Minimal: true}, nil
	}
	return TTL{Duration: time.Duration(n) * time.Second}, nil
}

// metadataTTLs maps --metadata-ttl and --negative-metadata-ttl (nil when not
// given) to the directory, file and negative-entry TTLs.
//
//	minimal     → dirs 1 s, files 0.1 s, negative 0.1 s
//	indefinite  → 100 years for all three
//	N           → N seconds for all three
//
// --negative-metadata-ttl then replaces only the negative TTL, its "minimal"
// meaning 0.1 s.
func metadataTTLs(meta TTL, negative *TTL) (dir, file, neg time.Duration) {
	switch {
	case meta.Indefinite:
		dir, file, neg = IndefiniteTTL, IndefiniteTTL, IndefiniteTTL
	case meta.Minimal:
		dir, file, neg = MinimalDirTTL, MinimalFileTTL, MinimalNegativeTTL
	default:
		dir, file, neg = meta.Duration, meta.Duration, meta.Duration
	}
	if negative != nil {
		switch {
		case negative.Indefinite:
			neg = IndefiniteTTL
		case negative.Minimal:
			neg = MinimalNegativeTTL
		default:
			neg = negative.Duration
		}
	}
	return dir, file, neg
}

// invalid is the one error shape of a bad flag value.
func invalid(flag, value, why string) error {
	return usagef("invalid value %q for %s: %s", value, flag, why)
}

// parseID parses a uid or gid. 4294967295 is (uid_t)-1, "no change" to chown,
// and is refused.
func parseID(flag, v string) (uint32, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, invalid(flag, v, "must be a number")
	}
	return uint32(n), nil
}

// parseMode parses permission bits in octal, with or without a leading 0
// ("0755", "755", "0o755").
func parseMode(flag, v string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
	if err != nil {
		return 0, invalid(flag, v, "must be an octal number like 0755")
	}
	if n > 0o777 {
		return 0, invalid(flag, v, "only user/group/other permission bits (at most 0777) are supported")
	}
	return uint32(n), nil
}

// parseSize parses a positive number of bytes.
func parseSize(flag, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(flag, v, "must be a positive number of bytes")
	}
	return n, nil
}

// parseThreads parses --max-threads: a positive number.
func parseThreads(flag, v string) (int, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n <= 0 {
		return 0, invalid(flag, v, "must be a positive number")
	}
	return int(n), nil
}

// oneOf accepts v when it is one of choices (exact match).
func oneOf(flag, v string, choices ...string) (string, error) {
	for _, c := range choices {
		if v == c {
			return v, nil
		}
	}
	return "", invalid(flag, v, "must be one of "+strings.Join(choices, ", "))
}

// parseEndpointURL accepts an http or https URL with a host.
func parseEndpointURL(flag, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalid(flag, Redact(v), "must be an http:// or https:// URL like https://s3.example.com")
	}
	return v, nil
}

// parseKMSKeyARN accepts a KMS key ARN, as mount-s3 does: key IDs, aliases and
// alias ARNs are refused.
func parseKMSKeyARN(flag, v string) (string, error) {
	if !strings.HasPrefix(v, "arn:") || !strings.Contains(v, ":key/") {
		return "", invalid(flag, v, "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); key IDs and aliases are not supported")
	}
	return v, nil
}

// Redact removes any user:password part from a URL so it can be logged or
// shown in an error. Strings that are not URLs are returned unchanged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
}
