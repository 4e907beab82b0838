package mount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/bucketfs/bucketfs/internal/cli"
)

// Serve mounts cfg with mountFn and serves it until it is unmounted.
//
// ready is called exactly once: with nil as soon as the mount is live, or with
// the error that prevented it (which Serve then also returns). A value on
// signals, or the end of ctx, asks the kernel to unmount; when that fails
// (the mount is busy) the error is logged and the mount keeps serving until
// the next request. A signal during the mount step cancels it.
// When the mount ends, for whatever reason, the session is closed (uploads in
// progress are aborted) and Serve returns nil.
func Serve(ctx context.Context, cfg *cli.MountConfig, mountFn MountFunc, logger *slog.Logger,
	signals <-chan os.Signal, ready func(error)) error {
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	logMountConfig(logger, cfg)

	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan mountResult, 1)
	go func() {
		s, err := mountFn(mctx, cfg, logger)
		results <- mountResult{s, err}
	}()

	var r mountResult
	select {
	case r = <-results:
	case sig := <-signals:
		r = abandonMount(cancel, results, logger, fmt.Sprintf("interrupted by %v while mounting", sig))
	case <-ctx.Done():
		r = abandonMount(cancel, results, logger, "interrupted while mounting")
	}
	if r.err != nil {
		logger.Error("mount failed", "err", r.err)
		ready(r.err)
		return r.err
	}
	sess := r.sess
	logger.Info(cfg.Description()+" is mounted", "mount_point", cfg.MountPoint)
	ready(nil)

	unmounted := make(chan struct{})
	go func() {
		sess.Wait()
		close(unmounted)
	}()
	stop := ctx.Done()
	for {
		var why string
		select {
		case <-unmounted:
			logger.Info("unmounted; shutting down", "mount_point", cfg.MountPoint)
			sess.Close()
			logger.Info("stopped")
			return nil
		case sig := <-signals:
			why = "received " + sig.String()
		case <-stop:
			why, stop = "stop requested", nil // asked once; a nil channel blocks
		}
		logger.Info(why+"; unmounting", "mount_point", cfg.MountPoint)
		if err := sess.Unmount(); err != nil {
			logger.Error("unmount failed; still serving (signal again to retry)", "err", err)
		}
	}
}

// mountResult is what a MountFunc returned.
type mountResult struct {
	sess Session
	err  error
}

// abandonMount cancels a mount step in progress and waits for it; a mount that
// completed anyway is taken down again. The result has reason as its error.
func abandonMount(cancel context.CancelFunc, results <-chan mountResult, logger *slog.Logger, reason string) mountResult {
	logger.Info(reason + "; giving up")
	cancel()
	if r := <-results; r.err == nil && r.sess != nil {
		teardown(r.sess)
	}
	return mountResult{err: errors.New(reason)}
}

// logMountConfig logs what is being mounted and how. The configuration holds
// no credentials; endpoint URLs are logged redacted.
func logMountConfig(logger *slog.Logger, cfg *cli.MountConfig) {
	logger.Info("mounting "+cfg.Description(), "mount_point", cfg.MountPoint, "source", cfg.Source())
	logger.Debug("configuration",
		"region", cfg.S3.Region, "endpoint_url", cli.Redact(cfg.S3.EndpointURL),
		"force_path_style", cfg.S3.ForcePathStyle, "profile", cfg.S3.Profile,
		"no_sign_request", cfg.S3.NoSignRequest, "requester_pays", cfg.S3.RequesterPays,
		"storage_class", cfg.S3.StorageClass, "sse", cfg.S3.SSE, "upload_checksums", cfg.S3.UploadChecksums,
		"read_only", cfg.FS.ReadOnly, "allow_delete", cfg.FS.AllowDelete, "allow_overwrite", cfg.FS.AllowOverwrite,
		"allow_other", cfg.FUSE.AllowOther, "allow_root", cfg.FUSE.AllowRoot, "auto_unmount", cfg.FUSE.AutoUnmount,
		"uid", cfg.FS.UID, "gid", cfg.FS.GID,
		"dir_mode", fmt.Sprintf("%#o", cfg.FS.DirMode), "file_mode", fmt.Sprintf("%#o", cfg.FS.FileMode),
		"dir_ttl", cfg.FS.DirTTL, "file_ttl", cfg.FS.FileTTL, "negative_ttl", cfg.FS.NegativeTTL,
		"read_part_size", cfg.FS.ReadPartSize, "write_part_size", cfg.FS.WritePartSize,
		"max_threads", cfg.FS.MaxThreads)
}

// OneLine folds a message onto one line, as every error bucketfs prints is.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
