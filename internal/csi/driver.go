package csi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Driver is the CSI node plugin: the Identity and Node services.
type Driver struct {
	opts    Options
	mounter Mounter
	log     *slog.Logger
	version string

	inFlight inFlight   // target paths with a call in progress
	volumes  keyedMutex // serializes the calls for one volume ID

	mu sync.Mutex
	// published: volume ID → target path → access mode, for the targets this
	// process published (the single-writer check). GUARDED_BY(mu).
	published map[string]map[string]csi.VolumeCapability_AccessMode_Mode
}

// New returns a driver with the given side effects. opts must be complete
// (Options.Complete); version is reported by GetPluginInfo.
func New(opts Options, mounter Mounter, logger *slog.Logger, version string) *Driver {
	return &Driver{
		opts:      opts,
		mounter:   mounter,
		log:       logger,
		version:   version,
		published: map[string]map[string]csi.VolumeCapability_AccessMode_Mode{},
	}
}

// Register registers the Identity and Node services on s.
func (d *Driver) Register(s *grpc.Server) {
	csi.RegisterIdentityServer(s, &identityServer{d: d})
	csi.RegisterNodeServer(s, &nodeServer{d: d})
}

// NewServer returns a gRPC server with d's services and its call logging.
func (d *Driver) NewServer() *grpc.Server {
	s := grpc.NewServer(grpc.UnaryInterceptor(d.logCalls))
	d.Register(s)
	return s
}

// Run serves on the endpoint's unix socket until ctx ends, then stops the
// server (calls in progress get a few seconds). Mounts are left alone: their
// processes outlive the driver.
func (d *Driver) Run(ctx context.Context) error {
	path, err := ParseEndpoint(d.opts.Endpoint)
	if err != nil {
		return err
	}
	lis, err := Listen(path)
	if err != nil {
		return err
	}
	srv := d.NewServer()
	d.log.Info("CSI node plugin serving", "driver", DriverName, "version", d.version, "endpoint", path,
		"node_id", d.opts.NodeID, "kubelet_dir", d.opts.KubeletDir, "bucketfs", d.opts.BucketfsPath)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving %s: %w", path, err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	_ = os.Remove(path)
	d.log.Info("CSI node plugin stopped; mounts stay")
	return nil
}

// Listen listens on a unix socket at path, creating its directory and
// replacing a socket left by an earlier run.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("cannot create the socket directory: %w", err)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: not replacing it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("cannot remove the old socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	return lis, nil
}

// logCalls logs every call once: method, volume, target, outcome and time.
// Requests are never logged whole (secrets would be in them).
func (d *Driver) logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	attrs := []any{"method", info.FullMethod, "elapsed", time.Since(start).Round(time.Millisecond)}
	if r, ok := req.(interface{ GetVolumeId() string }); ok && r.GetVolumeId() != "" {
		attrs = append(attrs, "volume_id", r.GetVolumeId())
	}
	if r, ok := req.(interface{ GetTargetPath() string }); ok && r.GetTargetPath() != "" {
		attrs = append(attrs, "target", r.GetTargetPath())
	}
	switch {
	case err != nil:
		st, _ := status.FromError(err)
		d.log.Warn("call failed", append(attrs, "code", st.Code().String(), "err", st.Message())...)
	case info.FullMethod == "/csi.v1.Identity/Probe" || info.FullMethod == "/csi.v1.Identity/GetPluginInfo":
		d.log.Debug("call", attrs...) // liveness probes: every few seconds
	default:
		d.log.Info("call", attrs...)
	}
	return resp, err
}
