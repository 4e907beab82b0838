// Package s3 implements objstore.Client on top of aws-sdk-go-v2. It is the only
// package in bucketfs that imports the AWS SDK.
//
// # Configuration
//
// New loads the SDK's standard configuration (config.LoadDefaultConfig): the
// default credential chain (environment, shared config/credentials files and
// Config.Profile, web identity / IRSA, ECS container credentials, EKS Pod
// Identity, IMDS), AWS_REGION, AWS_ENDPOINT_URL, AWS_MAX_ATTEMPTS and
// AWS_CA_BUNDLE. Credentials are resolved lazily on the first request: New
// never touches the network. Config fields override the environment.
//
// The SDK refuses to apply a CA bundle (Config.CABundle or AWS_CA_BUNDLE) to
// any HTTP client other than its own awshttp.BuildableClient, so that is the
// client we configure (connection limits included).
//
// # Errors
//
// Every SDK error is translated here, once, into the objstore sentinels, by
// looking at smithy.APIError codes and HTTP status codes (never at error text).
// The returned *Error keeps the operation, key and the SDK's message; its
// Unwrap gives both the sentinel and the SDK error.
//
// # S3 corner cases handled here
//
//   - A GET of an empty object with "Range: bytes=0-" is answered 416 by S3,
//     so whole-object reads from offset 0 send no Range header, and a 416 at
//     offset 0 is re-checked with HEAD (an empty object reads as empty).
//   - A zero-length range cannot be expressed in HTTP; it is served from HEAD.
//   - HEAD responses carry no body, hence no error code: a 404 is ErrNotFound
//     and the bucket probe (CheckBucket) uses ListObjectsV2 instead of
//     HeadBucket so that a missing bucket yields a NoSuchBucket code.
//   - Deleting a missing key is success in S3; servers answering 404 are
//     treated the same.
//   - Listings ask for encoding-type=url so that keys containing characters
//     XML 1.0 cannot carry survive; keys and prefixes are decoded here. So do
//     upload listings, whose next key marker is decoded before it is sent back.
//   - The copy source (x-amz-copy-source) is "bucket/key" with every byte of
//     the key but unreserved ones and '/' percent-encoded, '+' and '%'
//     included, so that no server decodes it into another key.
//   - MinIO refuses every UploadPartCopy into an upload created with a
//     checksum algorithm (it computes none for a copied part), so uploads
//     for copies (CreateMultipartInput.CopyParts) are created without one;
//     Complete lists the parts' checksums only when every part has one.
//   - MinIO ignores If-Match / If-None-Match on CopyObject (it overwrites),
//     so none is offered: conditional copies are UploadPartCopy parts and a
//     conditional Complete.
//   - MinIO's ListMultipartUploads matches a non-empty prefix as a whole key
//     and lists by initiation; the uploads are sorted here by key, then by
//     initiation, as S3 lists them.
package s3

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

const (
	// fallbackRegion is used when neither Config.Region nor the SDK's
	// configuration names one; S3-compatible servers usually accept it.
	fallbackRegion = "us-east-1"
	// defaultTimeout bounds "small" requests (HEAD, LIST, DELETE, multipart
	// create/abort) including their retries when Config.Timeout is 0.
	defaultTimeout = 60 * time.Second
	// probeTimeout and probeAttempts bound CheckBucket so that a mount against
	// an unreachable endpoint fails quickly instead of retrying for minutes.
	probeTimeout  = 10 * time.Second
	probeAttempts = 2
)

// Client is an objstore.Client for one bucket on S3 or an S3-compatible server.
type Client struct {
	s3      *s3.Client
	cfg     Config
	logger  *slog.Logger
	timeout time.Duration

	checksums bool // upload CRC32C checksums
}

var _ objstore.Client = (*Client)(nil)

// New builds a client from cfg and the SDK's standard configuration sources.
// It does not contact the endpoint; use CheckBucket for that. logger may be nil.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("s3: no bucket name")
	}
	checksums := true
	switch strings.ToLower(cfg.UploadChecksums) {
	case "", "crc32c":
	case "off":
		checksums = false
	default:
		return nil, fmt.Errorf("s3: upload checksums %q: want \"crc32c\" or \"off\"", cfg.UploadChecksums)
	}
	if cfg.EndpointURL != "" {
		u, err := url.Parse(cfg.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint URL %q: want http(s)://host[:port]", cfg.EndpointURL)
		}
	}

	httpClient := awshttp.NewBuildableClient()
	if cfg.MaxConnections > 0 {
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) {
			tr.MaxConnsPerHost = cfg.MaxConnections
			tr.MaxIdleConnsPerHost = cfg.MaxConnections
			if tr.MaxIdleConns < cfg.MaxConnections {
				tr.MaxIdleConns = cfg.MaxConnections
			}
		})
	}
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithLogger(sdkLogger(logger)),
	}
	if cfg.CABundle != "" {
		pem, err := readCABundle(cfg.CABundle)
		if err != nil {
			return nil, err
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	// With an explicit provider the SDK builds no credential chain at all.
	switch {
	case cfg.NoSignRequest:
		opts = append(opts, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	case cfg.Credentials != nil:
		static := *cfg.Credentials
		opts = append(opts, config.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{
					AccessKeyID:     static.AccessKeyID,
					SecretAccessKey: static.SecretAccessKey,
					SessionToken:    static.SessionToken,
					Source:          "bucketfs static credentials",
				}, nil
			})))
	}
	if !checksums {
		opts = append(opts, config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = fallbackRegion
	}
	if !cfg.NoSignRequest && awsCfg.Credentials != nil {
		awsCfg.Credentials = credentialsTagger{awsCfg.Credentials}
	}

	// The standard retryer's client-side rate limiter shares one retry quota
	// across all requests of the process. A mount issues many parallel
	// requests, and a burst of SlowDown would drain the quota and turn later
	// transient errors into immediate failures, so it is disabled. (As a
	// consequence AWS_RETRY_MODE=adaptive is not honoured; AWS_MAX_ATTEMPTS is.)
	maxAttempts := cfg.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = awsCfg.RetryMaxAttempts // AWS_MAX_ATTEMPTS / profile max_attempts
	}
	var retryer aws.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
	if maxAttempts > 0 {
		retryer = retry.AddWithMaxAttempts(retryer, maxAttempts)
	}

	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		o.Retryer = retryer
		// Ranged GETs cannot be validated against whole-object checksums; do
		// not warn about it on every read.
		o.DisableLogOutputChecksumValidationSkipped = true
		if cfg.UserAgentPrefix != "" {
			o.APIOptions = append(o.APIOptions, prefixUserAgent(cfg.UserAgentPrefix))
		}
		if logger.Enabled(ctx, slog.LevelDebug) {
			o.APIOptions = append(o.APIOptions, logRequests(logger))
		}
	})

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	logger.Debug("s3 client configured", "bucket", cfg.Bucket, "region", awsCfg.Region,
		"endpoint", cfg.EndpointURL, "path_style", cfg.ForcePathStyle, "anonymous", cfg.NoSignRequest,
		"max_attempts", maxAttempts, "max_connections", cfg.MaxConnections, "checksums", checksums)
	return &Client{s3: client, cfg: cfg, logger: logger, timeout: timeout, checksums: checksums}, nil
}

// readCABundle reads a PEM bundle and checks it holds at least one
// certificate. The SDK would otherwise accept an unusable file silently and
// fail every TLS handshake later with a less helpful message.
func readCABundle(path string) ([]byte, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("s3: reading CA bundle %q: %w", path, err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s3: CA bundle %q contains no PEM certificates", path)
	}
	return pem, nil
}

// sdkLogger forwards the SDK's own log lines (configuration warnings, retries
// when ClientLogMode asks for them) to slog.
func sdkLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		l.Log(context.Background(), level, "aws-sdk: "+fmt.Sprintf(format, v...))
	})
}

// prefixUserAgent puts prefix in front of the SDK's User-Agent. The SDK's own
// AddUserAgentKey appends and rewrites '/' to '-', which would turn
// "product/1.2" into something log queries on the server side do not expect.
// It runs at the end of the Build step, after the SDK has composed the header;
// SigV4 does not sign User-Agent, so changing it there is safe.
func prefixUserAgent(prefix string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("bucketfsUserAgentPrefix",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					ua := req.Header.Get("User-Agent")
					req.Header.Set("User-Agent", strings.TrimSpace(prefix+" "+ua))
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	}
}

// credentialsTagger marks failures to obtain credentials so that they are
// reported as ErrAccessDenied rather than as, say, an IMDS network error.
type credentialsTagger struct{ p aws.CredentialsProvider }

func (t credentialsTagger) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := t.p.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

// IsCredentialsProvider lets the SDK see through the wrapper.
func (t credentialsTagger) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(t.p, target)
}

// Bucket implements objstore.Client.
func (c *Client) Bucket() string { return c.cfg.Bucket }

// small bounds a metadata-sized request with the configured timeout.
func (c *Client) small(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) requestPayer() types.RequestPayer {
	if c.cfg.RequesterPays {
		return types.RequestPayerRequester
	}
	return ""
}

func (c *Client) owner() *string {
	if c.cfg.ExpectedBucketOwner == "" {
		return nil
	}
	return aws.String(c.cfg.ExpectedBucketOwner)
}

func (c *Client) checksumAlgorithm() types.ChecksumAlgorithm {
	if c.checksums {
		return types.ChecksumAlgorithmCrc32c
	}
	return ""
}

// givenChecksum is the CRC32C header value for a body whose checksum the
// caller computed (objstore.PutInput.ChecksumCRC32C): with it the SDK does
// not read the body a second time to compute one. Nil when checksums are
// off or the caller has none (the SDK then computes it).
func (c *Client) givenChecksum(crc string) *string {
	if !c.checksums || crc == "" {
		return nil
	}
	return aws.String(crc)
}

func (c *Client) sse() (types.ServerSideEncryption, *string) {
	var kms *string
	if c.cfg.SSEKMSKeyID != "" {
		kms = aws.String(c.cfg.SSEKMSKeyID)
	}
	return types.ServerSideEncryption(c.cfg.SSE), kms
}
