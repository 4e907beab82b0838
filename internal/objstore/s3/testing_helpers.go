package s3

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CreateBucket creates cfg.Bucket with cfg's endpoint and credentials. It
// exists for tests (internal/testutil/miniotest), which may not import the AWS
// SDK themselves. A bucket that already exists and is ours is not an error.
func CreateBucket(ctx context.Context, cfg Config) error {
	c, err := New(ctx, cfg, nil)
	if err != nil {
		return err
	}
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil
	}
	return c.wrap("CreateBucket", "", err)
}
