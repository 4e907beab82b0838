package csi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func publishReq(vol, target, bucket string, mode csi.VolumeCapability_AccessMode_Mode, flags ...string) *csi.NodePublishVolumeRequest {
	return &csi.NodePublishVolumeRequest{
		VolumeId: vol, TargetPath: target, VolumeCapability: mountCap(mode, flags...),
		VolumeContext: map[string]string{"bucketName": bucket},
	}
}

// wantCode fails unless err has code and its message contains want.
func wantCode(t *testing.T, what string, err error, code codes.Code, want string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), want) {
		t.Fatalf("%s: %v, want %s containing %q", what, err, code, want)
	}
}

func TestPublishUnpublishLifecycle(t *testing.T) {
	d, m, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	ctx := context.Background()
	target := filepath.Join(kubelet, "pods/p1/volumes/kubernetes.io~csi/s3-pv/mount")

	if _, err := ns.NodePublishVolume(ctx, publishReq("s3-pv", target, "b-1", rwx, "allow-delete")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(target); err != nil || !st.IsDir() {
		t.Fatalf("target not created: %v", err)
	}
	if got := m.mounts[0]; len(got) != 3 || got[0] != "b-1" || got[1] != target || got[2] != "--allow-delete" {
		t.Errorf("mount args = %q", got)
	}
	// Idempotent: the same publish again mounts nothing.
	for i := 0; i < 3; i++ {
		if _, err := ns.NodePublishVolume(ctx, publishReq("s3-pv", target, "b-1", rwx, "allow-delete")); err != nil {
			t.Fatalf("repeated publish: %v", err)
		}
	}
	if n, _ := m.calls(); n != 1 {
		t.Errorf("%d mounts after repeated publishes, want 1", n)
	}
	// Something else at the target: AlreadyExists.
	_, err := ns.NodePublishVolume(ctx, publishReq("s3-pv", target, "other-bucket", rwx))
	wantCode(t, "publish of another bucket", err, codes.AlreadyExists, "already has s3://b-1 mounted")
	ro := publishReq("s3-pv", target, "b-1", rwx)
	ro.Readonly = true
	_, err = ns.NodePublishVolume(ctx, ro)
	wantCode(t, "read-only publish over read-write", err, codes.AlreadyExists, "read-only false")

	if _, err := ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "s3-pv", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target still there after unpublish: %v", err)
	}
	// Unpublish again, and of a target that never existed: success.
	for _, p := range []string{target, filepath.Join(kubelet, "pods/none/mount")} {
		if _, err := ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "s3-pv", TargetPath: p}); err != nil {
			t.Errorf("unpublish of %s: %v", p, err)
		}
	}
	if _, u := m.calls(); u != 1 {
		t.Errorf("%d unmounts, want 1", u)
	}
}

func TestPublishRequestErrors(t *testing.T) {
	d, _, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	ctx := context.Background()
	target := filepath.Join(kubelet, "pods/p/mount")
	outside := t.TempDir()
	link := filepath.Join(kubelet, "pods/link")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *csi.NodePublishVolumeRequest
		code codes.Code
		want string
	}{
		{"no volume id", &csi.NodePublishVolumeRequest{TargetPath: target}, codes.InvalidArgument, "volume ID missing"},
		{"no target", &csi.NodePublishVolumeRequest{VolumeId: "v"}, codes.InvalidArgument, "target path missing"},
		{"no capability", &csi.NodePublishVolumeRequest{VolumeId: "v", TargetPath: target}, codes.InvalidArgument, "volume capability missing"},
		{"outside kubelet dir", publishReq("v", filepath.Join(outside, "mnt"), "b-1", rwx), codes.InvalidArgument, "outside the kubelet directory"},
		{"dot-dot escape", publishReq("v", kubelet+"/pods/../../etc/mnt", "b-1", rwx), codes.InvalidArgument, "outside the kubelet directory"},
		{"kubelet dir itself", publishReq("v", kubelet, "b-1", rwx), codes.InvalidArgument, "outside the kubelet directory"},
		{"relative", publishReq("v", "pods/p/mount", "b-1", rwx), codes.InvalidArgument, "is not absolute"},
		{"symlink escape", publishReq("v", filepath.Join(link, "mnt"), "b-1", rwx), codes.InvalidArgument, "resolves to " + filepath.Join(outside, "mnt")},
		{"refused option", publishReq("v", target, "b-1", rwx, "ca-bundle /etc/ssl/x.pem"), codes.InvalidArgument, `"ca-bundle" is refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ns.NodePublishVolume(ctx, tt.req)
			wantCode(t, "publish", err, tt.code, tt.want)
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "mnt")); err == nil {
		t.Error("a refused publish created a directory outside the kubelet dir")
	}
	_, err := ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: "/etc"})
	wantCode(t, "unpublish outside", err, codes.InvalidArgument, "outside the kubelet directory")
}

func TestMountFailures(t *testing.T) {
	d, m, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	target := filepath.Join(kubelet, "pods/p/mount")
	m.mountErr = &MountError{ExitCode: 2, Message: `invalid value "abc" for --uid: must be a number`}
	_, err := ns.NodePublishVolume(context.Background(), publishReq("v", target, "b-1", rwx, "uid=abc"))
	wantCode(t, "usage error", err, codes.InvalidArgument, `bucketfs refused the mount options of s3://b-1: invalid value "abc" for --uid`)
	m.mountErr = &MountError{ExitCode: 1, Message: `bucket "b-1" does not exist`}
	_, err = ns.NodePublishVolume(context.Background(), publishReq("v", target, "b-1", rwx))
	wantCode(t, "runtime error", err, codes.Internal, `mounting s3://b-1 at `+target+` failed: bucket "b-1" does not exist`)
	m.mountErr = context.DeadlineExceeded
	_, err = ns.NodePublishVolume(context.Background(), publishReq("v", target, "b-1", rwx))
	wantCode(t, "timeout", err, codes.DeadlineExceeded, "mounting s3://b-1")
}

func TestBrokenAndForeignMounts(t *testing.T) {
	d, m, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	ctx := context.Background()
	target := filepath.Join(kubelet, "pods/p/mount")
	os.MkdirAll(target, 0o750)

	// A bucketfs mount whose process died is replaced.
	m.set(target, &MountPoint{Source: "s3://b-1", FSType: FSType, Broken: true})
	if _, err := ns.NodePublishVolume(ctx, publishReq("v", target, "b-1", rwx)); err != nil {
		t.Fatal(err)
	}
	if mounts, unmounts := m.calls(); mounts != 1 || unmounts != 1 {
		t.Errorf("mounts %d unmounts %d, want 1 and 1", mounts, unmounts)
	}
	// Another file system at the target is never touched.
	other := filepath.Join(kubelet, "pods/q/mount")
	m.set(other, &MountPoint{Source: "/dev/sda1", FSType: "ext4"})
	_, err := ns.NodePublishVolume(ctx, publishReq("v2", other, "b-1", rwx))
	wantCode(t, "publish over ext4", err, codes.AlreadyExists, "already has a ext4 mount of /dev/sda1")
	_, err = ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "v2", TargetPath: other})
	wantCode(t, "unpublish of ext4", err, codes.FailedPrecondition, "not a bucketfs mount; not unmounting it")
}

// TestConcurrentCalls: a second call for a target in progress is Aborted;
// calls for another target of the same volume wait for the first.
func TestConcurrentCalls(t *testing.T) {
	d, m, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	ctx := context.Background()
	a, b := filepath.Join(kubelet, "pods/a/mount"), filepath.Join(kubelet, "pods/b/mount")

	entered, release := make(chan string, 2), make(chan struct{})
	m.onMount = func(_ context.Context, args []string) {
		entered <- args[1]
		<-release
	}
	first := make(chan error, 1)
	go func() {
		_, err := ns.NodePublishVolume(ctx, publishReq("v", a, "b-1", rwx))
		first <- err
	}()
	if got := <-entered; got != a {
		t.Fatalf("first mount at %s", got)
	}
	_, err := ns.NodePublishVolume(ctx, publishReq("v", a, "b-1", rwx))
	wantCode(t, "duplicate publish", err, codes.Aborted, "already in progress")
	_, err = ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: a})
	wantCode(t, "unpublish during publish", err, codes.Aborted, "already in progress")

	second := make(chan error, 1)
	go func() {
		_, err := ns.NodePublishVolume(ctx, publishReq("v", b, "b-1", rwx))
		second <- err
	}()
	select {
	case got := <-entered:
		t.Fatalf("mount at %s started while the volume's first mount runs", got)
	case <-time.After(200 * time.Millisecond):
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := <-entered; got != b {
		t.Fatalf("second mount at %s", got)
	}
	release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

func TestSingleWriter(t *testing.T) {
	d, _, kubelet := testDriver(t)
	ns := &nodeServer{d: d}
	ctx := context.Background()
	a, b := filepath.Join(kubelet, "pods/a/mount"), filepath.Join(kubelet, "pods/b/mount")
	const rwop = csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER
	if _, err := ns.NodePublishVolume(ctx, publishReq("v", a, "b-1", rwop)); err != nil {
		t.Fatal(err)
	}
	_, err := ns.NodePublishVolume(ctx, publishReq("v", b, "b-1", rwop))
	wantCode(t, "second single-writer target", err, codes.FailedPrecondition, "single-writer (ReadWriteOncePod) and already published at "+a)
	_, err = ns.NodePublishVolume(ctx, publishReq("v", b, "b-1", rwx))
	wantCode(t, "second target beside a single writer", err, codes.FailedPrecondition, "already published at "+a)
	if _, err := ns.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: a}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.NodePublishVolume(ctx, publishReq("v", b, "b-1", rwop)); err != nil {
		t.Fatalf("publish after the first target was unpublished: %v", err)
	}
	// Multi-writer volumes go to many targets.
	for _, p := range []string{"pods/c/mount", "pods/d/mount"} {
		if _, err := ns.NodePublishVolume(ctx, publishReq("w", filepath.Join(kubelet, p), "b-1", rwx)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNodeInfoAndCapabilities(t *testing.T) {
	d, _, _ := testDriver(t)
	ns := &nodeServer{d: d}
	info, err := ns.NodeGetInfo(context.Background(), &csi.NodeGetInfoRequest{})
	if err != nil || info.GetNodeId() != "node-1" || info.GetAccessibleTopology() != nil {
		t.Errorf("NodeGetInfo = %v, %v", info, err)
	}
	caps, err := ns.NodeGetCapabilities(context.Background(), &csi.NodeGetCapabilitiesRequest{})
	if err != nil || len(caps.GetCapabilities()) != 1 || caps.GetCapabilities()[0].GetRpc().GetType() != csi.NodeServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER {
		t.Errorf("NodeGetCapabilities = %v, %v", caps, err)
	}
	_, err = ns.NodeStageVolume(context.Background(), &csi.NodeStageVolumeRequest{})
	wantCode(t, "stage", err, codes.Unimplemented, "")
}
