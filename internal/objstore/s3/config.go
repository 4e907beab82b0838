package s3

import (
	"log/slog"
	"time"
)

// Config is everything the S3 client needs; internal/cli fills it from flags and
// the environment. Zero values mean "what the SDK / S3 would do by default".
type Config struct {
	Bucket              string
	Region              string // "" → AWS_REGION / profile / us-east-1 fallback
	EndpointURL         string // "" → AWS_ENDPOINT_URL / the SDK's resolution
	ForcePathStyle      bool
	Profile             string // "" → AWS_PROFILE / default
	NoSignRequest       bool
	RequesterPays       bool
	ExpectedBucketOwner string
	StorageClass        string
	SSE                 string // "", "AES256", "aws:kms", "aws:kms:dsse"
	SSEKMSKeyID         string
	UploadChecksums     string // "crc32c" (default) or "off"
	CABundle            string // PEM file; "" → AWS_CA_BUNDLE as the SDK does
	UserAgentPrefix     string
	MaxAttempts         int           // 0 → AWS_MAX_ATTEMPTS or the SDK default
	MaxConnections      int           // upper bound of concurrent connections (--max-threads)
	Timeout             time.Duration // per-request timeout for small requests; 0 → default

	// Credentials, when set, replaces the SDK's credential chain with fixed
	// keys. The CLI leaves it nil (the chain reads the environment, profiles,
	// IRSA, IMDS...); tests and embedders use it. Ignored with NoSignRequest.
	Credentials *StaticCredentials
}

// StaticCredentials are fixed access keys. They never appear in fmt or slog
// output: both String and LogValue redact the secret parts.
type StaticCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String implements fmt.Stringer without revealing the keys.
func (c StaticCredentials) String() string { return "StaticCredentials{<redacted>}" }

// GoString implements fmt.GoStringer (%#v) without revealing the keys.
func (c StaticCredentials) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without revealing the keys.
func (c StaticCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }
