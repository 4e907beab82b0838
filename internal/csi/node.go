package csi

import (
	"context"
	"errors"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// nodeServer is the CSI Node service. Staging, volume stats and expansion
// are not implemented (and not advertised).
type nodeServer struct {
	csi.UnimplementedNodeServer
	d *Driver
}

func (s *nodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{
		Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{
			Type: csi.NodeServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER,
		}},
	}}}, nil
}

func (s *nodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: s.d.opts.NodeID}, nil
}

// NodePublishVolume mounts the volume's bucket at the target path by running
// "bucketfs mount". A target that already has this volume mounted is
// success; one with something else mounted is AlreadyExists; a broken
// bucketfs mount there (its process died) is replaced.
func (s *nodeServer) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	d := s.d
	volID, target, err := d.checkIDs(req.GetVolumeId(), req.GetTargetPath())
	if err != nil {
		return nil, err
	}
	if req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume capability missing in request")
	}
	if !d.inFlight.insert(target) {
		return nil, status.Errorf(codes.Aborted, "an operation on target path %s is already in progress; retry later", target)
	}
	defer d.inFlight.remove(target)
	plan, err := planPublish(req, target, d.opts.MountLogDirectory)
	if err != nil {
		return nil, err
	}
	unlock := d.volumes.lock(volID)
	defer unlock()

	mode := req.GetVolumeCapability().GetAccessMode().GetMode()
	if other := d.otherTarget(volID, target); other != "" && (mode == csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER ||
		d.modeAt(volID, other) == csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER) {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is single-writer (ReadWriteOncePod) and already published at %s", volID, other)
	}

	mp, err := d.mounter.MountAt(target)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cannot check target path %s: %v", target, err)
	}
	if mp != nil {
		done, err := d.existingMount(ctx, volID, target, plan, mp)
		if err != nil {
			return nil, err
		}
		if done {
			d.recordPublished(volID, target, mode)
			return &csi.NodePublishVolumeResponse{}, nil
		}
	}
	if len(plan.dropped) > 0 {
		d.log.Info("read-only publish: write options dropped", "volume_id", volID, "options", plan.dropped)
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "cannot create target path %s: %v", target, err)
	}
	if st, err := os.Stat(target); err != nil || !st.IsDir() {
		return nil, status.Errorf(codes.FailedPrecondition, "target path %s is not a directory", target)
	}
	d.log.Debug("mounting", "volume_id", volID, "args", redactArgs(plan.args))
	if err := d.mounter.Mount(ctx, plan.args); err != nil {
		return nil, mountStatus(plan, target, err)
	}
	d.recordPublished(volID, target, mode)
	d.log.Info("mounted", "volume_id", volID, "source", plan.source, "target", target, "read_only", plan.readOnly)
	return &csi.NodePublishVolumeResponse{}, nil
}

// existingMount handles a target that is already a mount point: done when
// it is this volume's mount, an error when it is something else, and
// neither when it was a broken bucketfs mount now removed.
func (d *Driver) existingMount(ctx context.Context, volID, target string, plan *publishPlan, mp *MountPoint) (done bool, err error) {
	switch {
	case mp.FSType != FSType:
		return false, status.Errorf(codes.AlreadyExists, "target path %s already has a %s mount of %s; not mounting over it", target, mp.FSType, mp.Source)
	case mp.Broken:
		d.log.Warn("replacing a broken bucketfs mount (its process is gone)", "volume_id", volID, "target", target, "source", mp.Source)
		if err := d.mounter.Unmount(ctx, target); err != nil {
			return false, status.Errorf(codes.Internal, "cannot remove the broken mount at %s: %v", target, err)
		}
		return false, nil
	case mp.Source != plan.source || mp.ReadOnly != plan.readOnly:
		return false, status.Errorf(codes.AlreadyExists, "target path %s already has %s mounted (read-only %v); this publish wants %s (read-only %v)",
			target, mp.Source, mp.ReadOnly, plan.source, plan.readOnly)
	}
	d.log.Debug("already mounted", "volume_id", volID, "target", target)
	return true, nil
}

// mountStatus maps a failed mount to a status: bucketfs's usage errors
// (exit code 2: a bad option value, conflicting options, a bad bucket name)
// are InvalidArgument; the rest (bucket missing, access denied, endpoint
// unreachable...) Internal, with bucketfs's one-line reason either way.
func mountStatus(plan *publishPlan, target string, err error) error {
	var me *MountError
	switch {
	case errors.As(err, &me) && me.ExitCode == 2:
		return status.Errorf(codes.InvalidArgument, "bucketfs refused the mount options of %s: %s", plan.source, me.Message)
	case errors.As(err, &me):
		return status.Errorf(codes.Internal, "mounting %s at %s failed: %s", plan.source, target, me.Message)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "mounting %s at %s: %v", plan.source, target, err)
	case errors.Is(err, context.Canceled):
		return status.Errorf(codes.Canceled, "mounting %s at %s: %v", plan.source, target, err)
	default:
		return status.Errorf(codes.Internal, "mounting %s at %s: %v", plan.source, target, err)
	}
}

// NodeUnpublishVolume unmounts the target path and deletes it. A target
// that does not exist or is not mounted is success.
func (s *nodeServer) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	d := s.d
	volID, target, err := d.checkIDs(req.GetVolumeId(), req.GetTargetPath())
	if err != nil {
		return nil, err
	}
	if !d.inFlight.insert(target) {
		return nil, status.Errorf(codes.Aborted, "an operation on target path %s is already in progress; retry later", target)
	}
	defer d.inFlight.remove(target)
	unlock := d.volumes.lock(volID)
	defer unlock()

	// Stacked mounts (a publish that raced an earlier driver) go one by one.
	for i := 0; ; i++ {
		mp, err := d.mounter.MountAt(target)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "cannot check target path %s: %v", target, err)
		}
		if mp == nil {
			break
		}
		if mp.FSType != FSType {
			return nil, status.Errorf(codes.FailedPrecondition, "target path %s has a %s mount of %s, not a bucketfs mount; not unmounting it", target, mp.FSType, mp.Source)
		}
		if i == 3 {
			return nil, status.Errorf(codes.Internal, "target path %s is still mounted after %d unmounts", target, i)
		}
		if err := d.mounter.Unmount(ctx, target); err != nil {
			return nil, status.Errorf(codes.Internal, "cannot unmount %s: %v", target, err)
		}
		d.log.Info("unmounted", "volume_id", volID, "target", target, "source", mp.Source)
	}
	if err := removeTarget(target); err != nil {
		return nil, status.Errorf(codes.Internal, "unmounted, but cannot delete target path %s: %v", target, err)
	}
	d.forgetPublished(volID, target)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// checkIDs checks the volume ID and target path of a request and returns
// the target resolved (see resolveTarget).
func (d *Driver) checkIDs(volID, target string) (string, string, error) {
	if volID == "" {
		return "", "", status.Error(codes.InvalidArgument, "volume ID missing in request")
	}
	if target == "" {
		return "", "", status.Error(codes.InvalidArgument, "target path missing in request")
	}
	resolved, err := resolveTarget(d.opts.KubeletDir, target)
	switch {
	case errors.Is(err, errOutside):
		return "", "", status.Errorf(codes.InvalidArgument, "%v", err)
	case err != nil:
		return "", "", status.Errorf(codes.Internal, "%v", err)
	}
	return volID, resolved, nil
}

func (d *Driver) recordPublished(volID, target string, mode csi.VolumeCapability_AccessMode_Mode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.published[volID] == nil {
		d.published[volID] = map[string]csi.VolumeCapability_AccessMode_Mode{}
	}
	d.published[volID][target] = mode
}

func (d *Driver) forgetPublished(volID, target string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.published[volID], target)
	if len(d.published[volID]) == 0 {
		delete(d.published, volID)
	}
}

// otherTarget returns a target other than target where this process
// published volID, or "".
func (d *Driver) otherTarget(volID, target string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for t := range d.published[volID] {
		if t != target {
			return t
		}
	}
	return ""
}

func (d *Driver) modeAt(volID, target string) csi.VolumeCapability_AccessMode_Mode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.published[volID][target]
}
