package s3

import "time"

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
}
