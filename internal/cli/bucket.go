package cli

import (
	"net/netip"
	"strings"
)

// bucketRules is the one-line summary of S3's bucket naming rules used in errors.
const bucketRules = "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, " +
	"beginning and ending with a letter or digit"

// ParseBucketArg splits the BUCKET argument into a bucket name and a prefix.
// Accepted forms: "bucket", "bucket/prefix/", "s3://bucket" and
// "s3://bucket/prefix/". A trailing "/" alone ("bucket/") means no prefix.
// The bucket name is checked with ValidateBucketName and the prefix with
// ValidatePrefix; errors are *UsageError.
func ParseBucketArg(arg string) (bucket, prefix string, err error) {
	rest := strings.TrimPrefix(arg, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := ValidateBucketName(bucket); err != nil {
		return "", "", err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return "", "", usagef("invalid BUCKET %q: the prefix %q must end with '/'", arg, prefix)
	}
	return bucket, prefix, nil
}

// ValidateBucketName checks name against S3's bucket naming rules: 3 to 63
// characters; lowercase letters, digits, dots and hyphens only; a letter or
// digit first and last; no two adjacent dots; not shaped like an IPv4 address.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		if why == "" {
			return usagef("invalid bucket name %q: %s", name, bucketRules)
		}
		return usagef("invalid bucket name %q: %s (%s)", name, why, bucketRules)
	}
	switch {
	case name == "":
		return usagef("missing bucket name in BUCKET (%s)", bucketRules)
	case len(name) < 3:
		return bad("too short")
	case len(name) > 63:
		return bad("too long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLowerAlnum(c) && c != '.' && c != '-' {
			return bad("")
		}
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return bad("")
	}
	if strings.Contains(name, "..") {
		return bad("two adjacent dots")
	}
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
		return bad("formatted as an IP address")
	}
	return nil
}

// ValidatePrefix checks a mount prefix: empty (the whole bucket) or ending in "/".
func ValidatePrefix(prefix string) error {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return usagef("--prefix must end with '/' (got %q)", prefix)
	}
	return nil
}

func isLowerAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}
