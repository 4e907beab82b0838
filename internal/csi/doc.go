// Package csi is the Kubernetes CSI node plugin of bucketfs ("bucketfs csi",
// driver name s3.csi.bucketfs.io): the Identity and Node services of the
// CSI spec (v1.9 and later) over gRPC on a unix socket.
//
// # What it serves
//
// Volumes are provisioned statically: a PersistentVolume names the bucket in
// spec.csi.volumeAttributes.bucketName (and optionally a prefix ending in
// "/"), and its mountOptions are bucketfs mount flags ("allow-delete",
// "region us-east-1", "uid=1000", "prefix some/"). There is no controller
// service and none is advertised; there is no staging (NodeStageVolume), no
// volume stats and no expansion. Every access mode is accepted; reader-only
// modes and readOnly publishes mount with --read-only (dropping
// allow-delete and allow-overwrite). SINGLE_NODE_MULTI_WRITER is advertised,
// so a SINGLE_NODE_SINGLE_WRITER (ReadWriteOncePod) volume published at one
// target is refused at another (FailedPrecondition) — as far as this process
// knows: the record starts empty when the driver restarts.
//
// # How it mounts
//
// NodePublishVolume runs the bucketfs binary, "bucketfs mount BUCKET TARGET
// FLAGS...", through the Mounter interface (SystemMounter in production,
// fakes in tests). This package never imports the file system (internal/fs,
// internal/fuse): the mount command daemonizes in its own session and
// returns once the mount is live, so mounts are separate processes that
// outlive a restart of the driver process. The mount command inherits the
// driver's environment: credentials come from the driver (the node's
// instance role, or AWS_* variables set on the DaemonSet). Mounts are
// checked in /proc/self/mountinfo (parsed with k8s.io/mount-utils) and
// unmounted with umount(2).
//
// A publish of a target already holding the same source with the same
// read-only setting succeeds (idempotent); any other mount there is
// AlreadyExists; a broken bucketfs mount there (its process died:
// ENOTCONN) is unmounted and mounted again. Unpublish of a missing or
// unmounted target succeeds, and the target directory is deleted.
//
// # Policy
//
// The volume's author controls the mount options, and the driver runs as
// root on the node, so options that would reach node paths or credentials
// are refused with InvalidArgument naming the option: ca-bundle,
// log-directory, profile, raw "-o ..." and short options, foreground; as are
// unknown options. endpoint-url is allowed (the bucket's data is the
// author's to point anywhere; the credentials sent are the driver's, so the
// cluster admin decides which endpoints those credentials are good for).
// allow-other and allow-root are allowed: pods usually run as non-root
// users, and the mount lives under the kubelet's pod directory, which only
// root can traverse on the node. Target paths must lie inside --kubelet-dir
// after resolving symbolic links.
//
// # Concurrency
//
// A second call for a target path while one is in progress is Aborted (the
// kubelet retries); calls for different targets of one volume wait for each
// other (keyedMutex).
package csi
