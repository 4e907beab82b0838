package mount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/cli"
	bfs "github.com/bucketfs/bucketfs/internal/fs"
	"github.com/bucketfs/bucketfs/internal/fuse"
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// Timeouts of the mount step.
const (
	// CheckBucketTimeout bounds the bucket probe, retries included.
	CheckBucketTimeout = 20 * time.Second
	// ProbeTimeout bounds the stat that proves the new mount answers.
	ProbeTimeout = 10 * time.Second
)

// Session is a live mount.
type Session interface {
	// Wait blocks until the file system is unmounted (by Unmount or from outside).
	Wait()
	// Unmount asks the kernel to unmount; Wait returns once it has.
	Unmount() error
	// Close releases the file system after Wait has returned: uploads still in
	// progress are aborted, so no partial object is left behind.
	Close()
}

// MountFunc performs the mount described by cfg and returns once it is live,
// or fails with a one-line reason. ctx bounds the network steps before the
// FUSE mount. Real is the production MountFunc; tests inject fakes.
type MountFunc func(ctx context.Context, cfg *cli.MountConfig, logger *slog.Logger) (Session, error)

// ClientFactory builds the object-store client without contacting it
// (s3.New in production).
type ClientFactory func(ctx context.Context, cfg s3.Config, logger *slog.Logger) (objstore.Client, error)

// Real returns the MountFunc that builds the real parts: newClient, then
// CheckBucket, then fs.New and fuse.Mount, then a stat of the mount point.
func Real(newClient ClientFactory) MountFunc {
	return func(ctx context.Context, cfg *cli.MountConfig, logger *slog.Logger) (Session, error) {
		if err := checkNotMounted(cfg.MountPoint); err != nil {
			return nil, err
		}
		client, err := newClient(ctx, cfg.S3, logger.With("component", "s3"))
		if err != nil {
			return nil, fmt.Errorf("cannot set up the S3 client: %w", err)
		}
		if err := checkBucket(ctx, client, cfg, logger); err != nil {
			return nil, err
		}

		var before syscall.Stat_t
		if err := syscall.Stat(cfg.MountPoint, &before); err != nil {
			return nil, fmt.Errorf("mount point %s: %w", cfg.MountPoint, err)
		}
		fsCfg := cfg.FS
		fsCfg.Logger = logger.With("component", "fs")
		if fsCfg.AllowEdit {
			if fsCfg.Stage, err = openStage(cfg); err != nil {
				return nil, err
			}
			fsCfg.Hostname, _ = os.Hostname()
			logger.Info("files being edited are staged in "+fsCfg.Stage.Root(), "max_bytes", cfg.MaxCacheSize)
			abortOrphans(ctx, client, fsCfg.Stage.Orphans(), logger)
		}
		core := bfs.New(client, fsCfg)
		tuneRuntime(core.Config().MemoryTarget, logger)
		stopProfile := startProfile(logger)
		opts := cfg.FUSE
		opts.Logger = logger.With("component", "fuse")
		srv, err := fuse.Mount(cfg.MountPoint, core, opts)
		if err != nil {
			stopProfile()
			core.Shutdown()
			removeStage(fsCfg.Stage, logger)
			return nil, fmt.Errorf("cannot mount at %s: %w", cfg.MountPoint, err)
		}
		sess := &fuseSession{srv: srv, core: core, stopProfile: stopProfile, stage: fsCfg.Stage, log: logger}
		if err := probe(cfg.MountPoint, uint64(before.Dev), ProbeTimeout); err != nil {
			teardown(sess)
			return nil, err
		}
		return sess, nil
	}
}

// teardown unmounts s, waits for it when the unmount was accepted, and closes it.
func teardown(s Session) {
	if s.Unmount() == nil {
		s.Wait()
	}
	s.Close()
}

// fuseSession is a Session over the real FUSE server and core.
type fuseSession struct {
	srv         *fuse.Server
	core        *bfs.FS
	stopProfile func()
	stage       *stage.Dir // nil unless the mount edits in place
	log         *slog.Logger
}

func (s *fuseSession) Wait()          { s.srv.Wait() }
func (s *fuseSession) Unmount() error { return s.srv.Unmount() }
func (s *fuseSession) Close() {
	s.core.Shutdown()
	removeStage(s.stage, s.log)
	s.stopProfile()
}

// openStage makes the mount's private staging directory under --cache-dir
// or $TMPDIR.
func openStage(cfg *cli.MountConfig) (*stage.Dir, error) {
	parent := cfg.CacheDir
	if parent == "" {
		parent = os.TempDir()
	}
	d, err := stage.Open(parent, cfg.MaxCacheSize)
	if err != nil {
		return nil, fmt.Errorf("cannot make a staging directory in %s: %w", parent, cli.UnwrapPath(err))
	}
	return d, nil
}

// abortOrphans aborts the multipart uploads of this bucket that a mount
// killed during a commit left open (found in its staging directory's
// journal); uploads of other buckets are left, and logged.
func abortOrphans(ctx context.Context, client objstore.Client, orphans []stage.Upload, logger *slog.Logger) {
	for _, u := range orphans {
		if u.Bucket != client.Bucket() {
			logger.Warn("a mount of another bucket that died left a multipart upload open; mount that bucket with the same --cache-dir to abort it",
				"bucket", u.Bucket, "key", u.Key, "upload_id", u.UploadID)
			continue
		}
		err := client.AbortMultipartUpload(ctx, u.Key, u.UploadID)
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			logger.Warn("aborting a multipart upload a dead mount left open failed", "key", u.Key, "upload_id", u.UploadID, "error", err)
			continue
		}
		logger.Info("aborted a multipart upload a dead mount left open", "key", u.Key, "upload_id", u.UploadID)
	}
}

// removeStage deletes the staging directory at unmount.
func removeStage(d *stage.Dir, logger *slog.Logger) {
	if d == nil {
		return
	}
	if err := d.Remove(); err != nil {
		logger.Warn("removing the staging directory failed", "dir", d.Root(), "error", err)
	}
}

// checkBucket probes the bucket and turns a failure into a reason naming the cause.
func checkBucket(ctx context.Context, client objstore.Client, cfg *cli.MountConfig, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, CheckBucketTimeout)
	defer cancel()
	start := time.Now()
	err := client.CheckBucket(ctx)
	if err == nil {
		logger.Debug("bucket probe succeeded", "bucket", cfg.S3.Bucket, "elapsed", time.Since(start))
		return nil
	}
	logger.Debug("bucket probe failed", "bucket", cfg.S3.Bucket, "err", err)
	return describeCheckError(err, cfg)
}

// reasonError is a one-line reason for the user that still unwraps to its
// cause, so callers can classify it with errors.Is.
type reasonError struct {
	msg string
	err error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.err }

// describeCheckError maps a CheckBucket failure to a reason naming the cause.
// The classification is by sentinel (errors.Is), never by message text.
func describeCheckError(err error, cfg *cli.MountConfig) error {
	bucket := cfg.S3.Bucket
	var msg string
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		msg = fmt.Sprintf("bucket %q does not exist", bucket)
		if cfg.S3.EndpointURL != "" {
			msg += " at " + cli.Redact(cfg.S3.EndpointURL)
		}
	case errors.Is(err, objstore.ErrAccessDenied):
		msg = fmt.Sprintf("access to bucket %q denied: check the credentials (%s) and the bucket policy: %v",
			bucket, credentialsHint(cfg), err)
	case errors.Is(err, objstore.ErrUnreachable):
		msg = fmt.Sprintf("cannot reach S3 endpoint %s: %v", endpointDescription(cfg), err)
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("cannot reach S3 endpoint %s: no answer within %v", endpointDescription(cfg), CheckBucketTimeout)
	case errors.Is(err, context.Canceled):
		msg = "interrupted while checking the bucket"
	default:
		msg = fmt.Sprintf("cannot access bucket %q: %v", bucket, err)
	}
	return &reasonError{msg: OneLine(msg), err: err}
}

// credentialsHint says where credentials came from, without any value.
func credentialsHint(cfg *cli.MountConfig) string {
	switch {
	case cfg.S3.NoSignRequest:
		return "requests are unsigned with --no-sign-request, so the bucket must allow anonymous access"
	case cfg.S3.Profile != "":
		return fmt.Sprintf("profile %q from --profile", cfg.S3.Profile)
	default:
		return "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile, or the instance/task role"
	}
}

// endpointDescription names the endpoint a probe went to, as well as it can
// be known without the SDK's resolution, with credentials redacted.
func endpointDescription(cfg *cli.MountConfig) string {
	if cfg.S3.EndpointURL != "" {
		return cli.Redact(cfg.S3.EndpointURL)
	}
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if u := os.Getenv(v); u != "" {
			return cli.Redact(u)
		}
	}
	region := cfg.S3.Region
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(v)
		}
	}
	if region == "" {
		return "https://s3.amazonaws.com"
	}
	return fmt.Sprintf("https://s3.%s.amazonaws.com", region)
}

// probe stats dir until it answers from a new device (the mount), at most timeout.
func probe(dir string, devBefore uint64, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			done <- fmt.Errorf("the new mount at %s does not answer: %w", dir, err)
			return
		}
		if uint64(st.Dev) == devBefore {
			done <- fmt.Errorf("the mount at %s did not take effect", dir)
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("the new mount at %s did not answer within %v", dir, timeout)
	}
}
