package csi

import (
	"context"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// identityServer is the CSI Identity service.
type identityServer struct {
	csi.UnimplementedIdentityServer
	d *Driver
}

func (s *identityServer) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: DriverName, VendorVersion: s.d.version}, nil
}

// GetPluginCapabilities advertises nothing: no controller service (volumes
// are provisioned statically, as PersistentVolumes naming a bucket), no
// topology (a bucket is reachable from every node).
func (s *identityServer) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{}, nil
}

// Probe is ready when mounts can be made: the bucketfs binary and
// /dev/fuse are there.
func (s *identityServer) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	if st, err := os.Stat(s.d.opts.BucketfsPath); err != nil || st.Mode()&0o111 == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "bucketfs binary %s is missing or not executable (--bucketfs-path)", s.d.opts.BucketfsPath)
	}
	if _, err := os.Stat(devFuse); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is missing: the driver container must be privileged (or given the device) to mount FUSE file systems", devFuse)
	}
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}

// devFuse is the FUSE device.
const devFuse = "/dev/fuse"
