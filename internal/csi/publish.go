package csi

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bucketfs/bucketfs/internal/mountopt"
)

// Volume attributes (a PersistentVolume's spec.csi.volumeAttributes).
const (
	AttrBucketName = "bucketName" // required: the bucket to mount
	AttrPrefix     = "prefix"     // optional: a prefix ending in "/"
)

// k8sAttrPrefix marks attributes Kubernetes adds itself (pod name etc.).
const k8sAttrPrefix = "csi.storage.k8s.io/"

// refusedOptions are mount flags a PersistentVolume may not set: they would
// let the volume's author make the driver, which runs as root on the node,
// read or write node paths of their choosing, or they break the driver's
// handling of the mount. The reason is part of the error.
var refusedOptions = map[string]string{
	"ca-bundle":     "it would make the mount trust a CA file at a node path chosen by the volume's author (for example one inside a pod); put extra CAs in the driver's image instead",
	"log-directory": "it would make the mount write files at a node path chosen by the volume's author; the cluster admin can set the driver's --mount-log-directory",
	"cache-dir":     "it would make the mount write files at a node path chosen by the volume's author; edits are staged in the driver's temporary directory",
	"profile":       "it would select credentials from the node's AWS config files; mounts use the driver's credentials",
	"foreground":    "the driver runs every mount in the background",
	"help":          "not a mount option",
	"version":       "not a mount option",
}

// writeOptions are dropped when a volume is published read-only.
var writeOptions = map[string]bool{"allow-delete": true, "allow-overwrite": true,
	"posix": true, "allow-edit": true, "allow-rename": true, "max-rename-keys": true, "max-cache-size": true}

// publishPlan is a checked NodePublishVolume request turned into a mount.
type publishPlan struct {
	source   string   // "s3://bucket[/prefix/]", as the mount table will show it
	readOnly bool     // mounted with --read-only
	args     []string // "bucketfs mount" arguments: BUCKET TARGET FLAGS...
	dropped  []string // write options a read-only publish dropped
}

// planPublish checks the volume attributes, access mode and mount options of
// req and builds the bucketfs mount arguments for target. Errors are
// InvalidArgument statuses naming the attribute or option at fault.
// logDir, when set, is the driver's --mount-log-directory.
func planPublish(req *csi.NodePublishVolumeRequest, target, logDir string) (*publishPlan, error) {
	bucket, prefix, err := volumeAttributes(req.GetVolumeContext())
	if err != nil {
		return nil, err
	}
	vc := req.GetVolumeCapability()
	if vc.GetBlock() != nil {
		return nil, status.Error(codes.InvalidArgument, "block access is not supported: a bucket mounts as a file system (use volumeMode: Filesystem)")
	}
	if vc.GetMount() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume capability has no mount access type (volumeMode: Filesystem is required)")
	}
	mode := vc.GetAccessMode().GetMode()
	if !supportedModes[mode] {
		return nil, status.Errorf(codes.InvalidArgument, "access mode %s is not supported (use ReadWriteMany, ReadOnlyMany, ReadWriteOnce or ReadWriteOncePod)", mode)
	}
	p := &publishPlan{readOnly: req.GetReadonly() || readOnlyModes[mode]}

	flags, optPrefix, err := mountFlags(vc.GetMount().GetMountFlags(), p)
	if err != nil {
		return nil, err
	}
	if optPrefix != "" && prefix != "" {
		return nil, status.Errorf(codes.InvalidArgument, "the prefix is given twice: volumeAttributes.%s=%q and mount option \"prefix %s\"; keep one", AttrPrefix, prefix, optPrefix)
	}
	p.source = "s3://" + bucket
	if prefix != "" {
		p.source += "/" + prefix
	}
	if optPrefix != "" {
		p.source += "/" + optPrefix
	}
	if p.readOnly {
		flags = append(flags, "--read-only")
	}
	if logDir != "" {
		flags = append(flags, "--log-directory="+filepath.Join(logDir, safeName(req.GetVolumeId())))
	}
	src := bucket
	if prefix != "" {
		src += "/" + prefix
	}
	p.args = append([]string{src, target}, flags...)
	return p, nil
}

// volumeAttributes returns the bucket and prefix of a volume context.
func volumeAttributes(attrs map[string]string) (bucket, prefix string, err error) {
	var unknown []string
	for k := range attrs {
		if k != AttrBucketName && k != AttrPrefix && !strings.HasPrefix(k, k8sAttrPrefix) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", "", status.Errorf(codes.InvalidArgument, "unknown volume attribute %q: volumeAttributes takes %s (required) and %s", unknown[0], AttrBucketName, AttrPrefix)
	}
	bucket = attrs[AttrBucketName]
	if bucket == "" {
		return "", "", status.Errorf(codes.InvalidArgument, "volumeAttributes.%s is missing: set it to the name of the bucket to mount", AttrBucketName)
	}
	if strings.ContainsAny(bucket, "/:") {
		return "", "", status.Errorf(codes.InvalidArgument, "volumeAttributes.%s=%q must be a bare bucket name (put a prefix in volumeAttributes.%s)", AttrBucketName, bucket, AttrPrefix)
	}
	prefix = attrs[AttrPrefix]
	if prefix != "" && (!strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/")) {
		return "", "", status.Errorf(codes.InvalidArgument, "volumeAttributes.%s=%q must end with '/' and not start with one, like \"some/prefix/\"", AttrPrefix, prefix)
	}
	return bucket, prefix, nil
}

// mountFlags turns a PersistentVolume's mountOptions into bucketfs flags,
// refusing what the driver does not allow. A read-only publish drops the
// write options (recorded in p.dropped) and read-only is added by the caller.
// It returns the prefix given as an option, if any.
func mountFlags(options []string, p *publishPlan) (flags []string, prefix string, err error) {
	publishedReadOnly := p.readOnly
	for _, item := range options {
		o, err := mountopt.ParseItem(item)
		if err != nil {
			return nil, "", status.Errorf(codes.InvalidArgument, "mount option %q: %v", item, err)
		}
		name := mountopt.Canonical(o.Name)
		switch {
		case name == "o" || strings.HasPrefix(name, "-"):
			return nil, "", status.Errorf(codes.InvalidArgument, "mount option %q is refused: raw -o and short options are not accepted; write bucketfs options one per item, like \"allow-delete\" or \"region us-east-1\"", item)
		case refusedOptions[name] != "":
			return nil, "", status.Errorf(codes.InvalidArgument, "mount option %q is refused: %s", o.Name, refusedOptions[name])
		case publishedReadOnly && writeOptions[name]:
			p.dropped = append(p.dropped, name)
			continue
		}
		flag, err := o.Flag()
		if err != nil {
			return nil, "", status.Errorf(codes.InvalidArgument, "mount option %q: %v", item, err)
		}
		if name == "prefix" {
			prefix = o.Value
			if !strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/") {
				return nil, "", status.Errorf(codes.InvalidArgument, "mount option %q: the prefix must end with '/' and not start with one", item)
			}
		}
		if name == "read-only" {
			p.readOnly = true // the caller adds --read-only once
			continue
		}
		flags = append(flags, flag)
	}
	return flags, prefix, nil
}

// supportedModes are the access modes a bucket can be published with.
var supportedModes = map[csi.VolumeCapability_AccessMode_Mode]bool{
	csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER:        true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY:   true,
	csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY:    true,
	csi.VolumeCapability_AccessMode_MULTI_NODE_SINGLE_WRITER:  true,
	csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER:   true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER: true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:  true,
}

// readOnlyModes are published with --read-only.
var readOnlyModes = map[csi.VolumeCapability_AccessMode_Mode]bool{
	csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY: true,
	csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY:  true,
}

// safeName makes a volume ID usable as one path element.
func safeName(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r == '/' || r == 0 || (b.Len() == 0 && r == '.') {
			r = '_'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ValidateVolume checks a PersistentVolume's spec.csi.volumeAttributes and
// spec.mountOptions as NodePublishVolume will (for a read-write,
// ReadWriteMany publish), without mounting. The values of options are
// checked later, by bucketfs itself.
func ValidateVolume(volumeAttributes map[string]string, mountOptions []string) error {
	req := &csi.NodePublishVolumeRequest{
		VolumeId:      "validate",
		VolumeContext: volumeAttributes,
		VolumeCapability: &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{MountFlags: mountOptions}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER},
		},
	}
	_, err := planPublish(req, "/target", "")
	return err
}
