package fuse

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"

	bfs "github.com/bucketfs/bucketfs/internal/fs"
)

// Server is a live mount.
type Server struct {
	srv   *gofuse.Server
	core  *bfs.FS
	watch *autoUnmounter // --auto-unmount
}

// maxIO is the largest read and write the kernel is asked to send (1 MiB:
// FUSE's max_pages limit of 256 pages).
const maxIO = 1 << 20

// Mount mounts core at dir and serves it; it returns once the kernel has
// the mount and the file system answers requests.
func Mount(dir string, core *bfs.FS, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &mounted{core: core, opts: opts, log: logger, uid: uint32(os.Getuid())}
	root := &node{m: m}

	mo := gofuse.MountOptions{
		FsName:        opts.FsName,
		Name:          "bucketfs",
		AllowOther:    opts.AllowOther || opts.AllowRoot,
		MaxWrite:      maxIO,
		MaxReadAhead:  maxIO,
		DisableXAttrs: true,             // S3 user metadata is not exposed; xattr calls get EOPNOTSUPP
		EnableLocks:   !opts.LocalLocks, // so that lock requests reach us and are refused
		Debug:         opts.Debug,
		Logger:        log.New(slogWriter{logger}, "", 0),
		// O_TRUNC arrives with open instead of as a separate truncate, so
		// an overwrite is one atomic decision.
		ExtraCapabilities: gofuse.CAP_ATOMIC_O_TRUNC,
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	mo.Options = append(mo.Options, "default_permissions", "nosuid", "nodev")

	srv, err := gofs.Mount(dir, root, &gofs.Options{
		MountOptions: mo,
		// No default entry/attr timeouts: every reply carries the core's
		// own, and a zero (a file being written) must stay zero.
		NegativeTimeout: ttlPtr(opts.NegativeTTL),
		RootStableAttr:  &gofs.StableAttr{Ino: bfs.RootIno},
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := raiseReadAhead(dir, kernelReadAheadKB); err != nil {
		logger.Debug("kernel read-ahead left at its default", "error", err)
	}
	s := &Server{srv: srv, core: core}
	if opts.AutoUnmount {
		if s.watch, err = startAutoUnmount(dir); err != nil {
			_ = srv.Unmount()
			return nil, fmt.Errorf("--auto-unmount: %w", err)
		}
	}
	return s, nil
}

// Wait blocks until the file system is unmounted.
func (s *Server) Wait() {
	s.srv.Wait()
	s.watch.stop()
}

// Unmount asks the kernel to unmount, retrying briefly while the mount is busy.
func (s *Server) Unmount() error {
	var err error
	for i := 0; i < 10; i++ {
		if err = s.srv.Unmount(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// slogWriter routes go-fuse's log.Logger output to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(p))
	return len(p), nil
}
