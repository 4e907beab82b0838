package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Error is a failed S3 request. Kind is one of the objstore sentinels (nil when
// the failure fits none); Err is the SDK's error. errors.Is/As see both.
type Error struct {
	Op     string // "HEAD", "GET", "ListObjectsV2", ...
	Bucket string
	Key    string // object key or listing prefix; may be empty
	Kind   error
	Err    error
}

func (e *Error) Error() string {
	target := fmt.Sprintf("%s s3://%s/%s", e.Op, e.Bucket, e.Key)
	if e.Kind == nil {
		return fmt.Sprintf("%s: %v", target, e.Err)
	}
	return fmt.Sprintf("%s: %v: %v", target, e.Kind, e.Err)
}

// Unwrap returns the sentinel and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// credentialsError marks a failure of the credential provider chain.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "no usable AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// errorCodes maps S3 error codes (the <Code> of an error body) to sentinels.
var errorCodes = map[string]error{
	"NoSuchKey":    objstore.ErrNotFound,
	"NotFound":     objstore.ErrNotFound,
	"NoSuchUpload": objstore.ErrNotFound,
	"NoSuchBucket": objstore.ErrNoSuchBucket,

	"AccessDenied":          objstore.ErrAccessDenied,
	"AllAccessDisabled":     objstore.ErrAccessDenied,
	"InvalidAccessKeyId":    objstore.ErrAccessDenied,
	"SignatureDoesNotMatch": objstore.ErrAccessDenied,
	"ExpiredToken":          objstore.ErrAccessDenied,
	"InvalidToken":          objstore.ErrAccessDenied,
	"TokenRefreshRequired":  objstore.ErrAccessDenied,
	"AccountProblem":        objstore.ErrAccessDenied,

	"PreconditionFailed": objstore.ErrPreconditionFailed,
	// 409 to a conditional write racing another one on the same key.
	"ConditionalRequestConflict": objstore.ErrPreconditionFailed,

	"SlowDown":                       objstore.ErrThrottled,
	"Throttling":                     objstore.ErrThrottled,
	"ThrottlingException":            objstore.ErrThrottled,
	"RequestLimitExceeded":           objstore.ErrThrottled,
	"TooManyRequests":                objstore.ErrThrottled,
	"TooManyRequestsException":       objstore.ErrThrottled,
	"ProvisionedThroughputExceeded":  objstore.ErrThrottled,
	"RequestThrottled":               objstore.ErrThrottled,
	"XMinioServerNotInitialized":     objstore.ErrThrottled,
	"ServiceUnavailable":             objstore.ErrThrottled,
	"InvalidRange":                   objstore.ErrInvalidRange,
	"RequestedRangeNotSatisfiable":   objstore.ErrInvalidRange,
	"XMinioInvalidObjectName":        nil, // explicit: a refused key is no sentinel
	"InvalidObjectName":              nil,
	"XMinioObjectExistsAsDirectory":  nil,
	"XMinioParentIsObject":           nil,
	"KeyTooLongError":                nil,
	"MalformedXML":                   nil,
	"InvalidPart":                    nil,
	"InvalidPartOrder":               nil,
	"EntityTooSmall":                 nil,
	"AuthorizationHeaderMalformed":   nil,
	"PermanentRedirect":              nil,
	"IllegalLocationConstraintError": nil,
}

// statusCodes maps HTTP status codes to sentinels when no known code is
// available; HEAD responses in particular have no body to carry one.
var statusCodes = map[int]error{
	http.StatusNotFound:                     objstore.ErrNotFound,
	http.StatusForbidden:                    objstore.ErrAccessDenied,
	http.StatusPreconditionFailed:           objstore.ErrPreconditionFailed,
	http.StatusTooManyRequests:              objstore.ErrThrottled,
	http.StatusServiceUnavailable:           objstore.ErrThrottled,
	http.StatusRequestedRangeNotSatisfiable: objstore.ErrInvalidRange,
}

// classify returns the sentinel for an SDK error, or nil.
func classify(err error) error {
	// A cancelled caller is not a store failure; leave it to errors.Is(context.Canceled).
	if errors.Is(err, context.Canceled) {
		return nil
	}
	var ce *credentialsError
	if errors.As(err, &ce) {
		return objstore.ErrAccessDenied
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if kind, known := errorCodes[apiErr.ErrorCode()]; known {
			return kind
		}
	}
	// The SDK also wraps send failures in a ResponseError, with status 0.
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil && respErr.HTTPStatusCode() != 0 {
		return statusCodes[respErr.HTTPStatusCode()]
	}
	// No response at all: the request never reached a server.
	if errors.Is(err, context.DeadlineExceeded) || isNetworkError(err) {
		return objstore.ErrUnreachable
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return objstore.ErrUnreachable
	}
	return nil
}

func isNetworkError(err error) bool {
	var (
		netErr     net.Error // *net.OpError and *net.DNSError included
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	return errors.As(err, &netErr) ||
		errors.As(err, &verifyErr) || errors.As(err, &recordErr) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}

// wrap translates an SDK error for op on key; nil stays nil.
func (c *Client) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Bucket: c.cfg.Bucket, Key: key, Kind: classify(err), Err: err}
}
