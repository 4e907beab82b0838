package s3

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// logRequests logs every HTTP attempt at debug level once its response
// headers arrive (a GET's body is streamed afterwards): operation, method,
// path, range, status and how long the server took. It is installed only when
// the logger has debug enabled (--debug), so a normal mount pays nothing.
func logRequests(l *slog.Logger) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("bucketfsRequestLog",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleDeserialize(ctx, in)
				attrs := []any{"op", middleware.GetOperationName(ctx), "elapsed", time.Since(start)}
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					attrs = append(attrs, "method", req.Method, "path", req.URL.Path)
					if r := req.Header.Get("Range"); r != "" {
						attrs = append(attrs, "range", r)
					}
				}
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
					attrs = append(attrs, "status", resp.StatusCode)
				}
				if err != nil {
					attrs = append(attrs, "err", err)
				}
				l.Debug("s3 request", attrs...)
				return out, md, err
			}), middleware.After)
	}
}
