package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bucketfs/bucketfs/internal/testutil/miniotest"
)

// csiProc is a "bucketfs csi" process and a client connected to it.
type csiProc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	node csi.NodeClient
	id   csi.IdentityClient
	conn *grpc.ClientConn
}

// startCSI starts the real binary as the CSI node plugin on sock, with the
// MinIO credentials in its environment (as a DaemonSet would set them).
func startCSI(t *testing.T, srv *miniotest.Server, sock, kubelet string) *csiProc {
	t.Helper()
	p := &csiProc{logs: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "csi", "--endpoint", "unix://"+sock, "--node-id", "node-1", "--kubelet-dir", kubelet, "--debug")
	p.cmd.Env = append(srv.Env(), "PATH="+os.Getenv("PATH"))
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(t) })
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	p.conn, p.node, p.id = conn, csi.NewNodeClient(conn), csi.NewIdentityClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := p.id.Probe(context.Background(), &csi.ProbeRequest{})
		if err == nil && r.GetReady().GetValue() {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("driver not ready: %v\n%s", err, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the driver with SIGTERM, as the kubelet does on a pod restart.
func (p *csiProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.conn.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("driver exited with %v after SIGTERM\n%s", err, p.logs)
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Errorf("driver did not stop within 10 s of SIGTERM")
	}
}

// pvPublish is the NodePublishVolume the kubelet sends for the issue's
// PersistentVolume (mountOptions: allow-delete, region us-east-1, plus the
// endpoint of the test MinIO) into a pod's volume directory.
func pvPublish(srv *miniotest.Server, bucket, target string, extra ...string) *csi.NodePublishVolumeRequest {
	flags := append([]string{"allow-delete", "region " + srv.Region, "endpoint-url " + srv.Endpoint, "force-path-style"}, extra...)
	return &csi.NodePublishVolumeRequest{
		VolumeId:   "s3-csi-driver-volume",
		TargetPath: target,
		VolumeCapability: &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{MountFlags: flags}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER},
		},
		VolumeContext: map[string]string{"bucketName": bucket, "csi.storage.k8s.io/pod.name": "app"},
	}
}

// podTarget is a kubelet target path for a pod and the PV s3-pv.
func podTarget(kubelet, pod string) string {
	return filepath.Join(kubelet, "pods", pod, "volumes", "kubernetes.io~csi", "s3-pv", "mount")
}

// TestCSIPublishOverGRPC: NodePublishVolume over gRPC mounts the bucket at the
// target (files visible, writes land in the bucket), repeats are no-ops, a
// read-only publish is read-only, the mounts survive a restart of the driver,
// and NodeUnpublishVolume from the new driver process unmounts and deletes
// the target.
func TestCSIPublishOverGRPC(t *testing.T) {
	srv, bucket, c := newBucket(t, map[string]string{"data/a.txt": "A", "b.txt": "B"})
	kubelet, sock := t.TempDir(), filepath.Join(t.TempDir(), "csi.sock")
	ctx := context.Background()
	d := startCSI(t, srv, sock, kubelet)

	rw, ro := podTarget(kubelet, "pod-rw"), podTarget(kubelet, "pod-ro")
	t.Cleanup(func() { unmount(t, rw); unmount(t, ro) })
	for i := 0; i < 2; i++ { // the second publish is a no-op
		if _, err := d.node.NodePublishVolume(ctx, pvPublish(srv, bucket, rw)); err != nil {
			t.Fatalf("NodePublishVolume #%d: %v\n%s", i+1, err, d.logs)
		}
	}
	if !isMounted(rw) {
		t.Fatalf("%s not mounted after NodePublishVolume", rw)
	}
	m := &mnt{t: t, srv: srv, bucket: bucket, dir: rw, s3: c}
	if got := m.mustSh("cat b.txt data/a.txt"); got != "BA" {
		t.Errorf("files at the target: %q", got)
	}
	m.mustSh("echo from-pod > data/new.txt && rm b.txt")
	if b, ok := m.object("data/new.txt"); !ok || string(b) != "from-pod\n" {
		t.Errorf("written file in the bucket: %q, %v", b, ok)
	}
	if len(daemonsFor(rw)) != 1 {
		t.Errorf("%d bucketfs processes serve %s after two publishes, want 1", len(daemonsFor(rw)), rw)
	}

	roReq := pvPublish(srv, bucket, ro, "prefix data/")
	roReq.Readonly = true
	if _, err := d.node.NodePublishVolume(ctx, roReq); err != nil {
		t.Fatalf("read-only NodePublishVolume: %v", err)
	}
	rom := &mnt{t: t, srv: srv, bucket: bucket, dir: ro, s3: c}
	if got := rom.mustSh("ls"); got != "a.txt\nnew.txt\n" {
		t.Errorf("prefix mount lists %q", got)
	}
	rom.shFails("rm a.txt", "Read-only file system") // allow-delete dropped, --read-only added

	// The driver restarts (an upgrade, a crash): the mounts stay.
	d.stop(t)
	if got := m.mustSh("cat data/a.txt"); got != "A" {
		t.Errorf("after the driver stopped: %q", got)
	}
	d = startCSI(t, srv, sock, kubelet)
	for _, target := range []string{rw, ro} {
		for i := 0; i < 2; i++ { // the second unpublish is a no-op
			if _, err := d.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "s3-csi-driver-volume", TargetPath: target}); err != nil {
				t.Fatalf("NodeUnpublishVolume %s #%d: %v\n%s", target, i+1, err, d.logs)
			}
		}
		if isMounted(target) {
			t.Errorf("%s still mounted after NodeUnpublishVolume", target)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("target %s not deleted: %v", target, err)
		}
		waitNoDaemon(t, target)
	}
}

// TestCSIBrokenMountIsReplaced: when a mount's process dies (the target
// answers ENOTCONN), the next NodePublishVolume mounts it again.
func TestCSIBrokenMountIsReplaced(t *testing.T) {
	srv, bucket, _ := newBucket(t, map[string]string{"f.txt": "F"})
	kubelet, sock := t.TempDir(), filepath.Join(t.TempDir(), "csi.sock")
	d := startCSI(t, srv, sock, kubelet)
	target := podTarget(kubelet, "pod")
	t.Cleanup(func() { unmount(t, target) })
	if _, err := d.node.NodePublishVolume(context.Background(), pvPublish(srv, bucket, target)); err != nil {
		t.Fatal(err)
	}
	for _, pid := range daemonsFor(target) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(target); !errors.Is(err, syscall.ENOTCONN); _, err = os.Stat(target) {
		if time.Now().After(deadline) {
			t.Fatalf("target not broken after killing its process: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := d.node.NodePublishVolume(context.Background(), pvPublish(srv, bucket, target)); err != nil {
		t.Fatalf("publish over a broken mount: %v\n%s", err, d.logs)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f.txt")); err != nil || string(b) != "F" {
		t.Errorf("after remount: %q, %v", b, err)
	}
	if !strings.Contains(d.logs.String(), "replacing a broken bucketfs mount") {
		t.Errorf("the replacement is not logged:\n%s", d.logs)
	}
}

// TestCSIErrorsOverGRPC: what users see in "kubectl describe pod" for the
// usual mistakes: the code and a message naming the cause.
func TestCSIErrorsOverGRPC(t *testing.T) {
	srv, bucket, _ := newBucket(t, nil)
	kubelet, sock := t.TempDir(), filepath.Join(t.TempDir(), "csi.sock")
	d := startCSI(t, srv, sock, kubelet)
	target := podTarget(kubelet, "pod")
	t.Cleanup(func() { unmount(t, target) })
	missing := pvPublish(srv, "no-such-bucket-e2e", target)
	tests := []struct {
		name string
		req  *csi.NodePublishVolumeRequest
		code codes.Code
		want string
	}{
		{"missing bucket", missing, codes.Internal, `bucket "no-such-bucket-e2e" does not exist`},
		{"bad value", pvPublish(srv, bucket, target, "uid abc"), codes.InvalidArgument, `invalid value "abc" for --uid: must be a number`},
		{"refused option", pvPublish(srv, bucket, target, "ca-bundle /var/lib/kubelet/pods/x/ca.pem"), codes.InvalidArgument, `mount option "ca-bundle" is refused`},
		{"unknown option", pvPublish(srv, bucket, target, "allow_others"), codes.InvalidArgument, `unknown option "allow_others"`},
		{"outside kubelet dir", pvPublish(srv, bucket, t.TempDir()), codes.InvalidArgument, "outside the kubelet directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := d.node.NodePublishVolume(context.Background(), tt.req)
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("%v, want %s containing %q", err, tt.code, tt.want)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("the error took %v", took)
			}
			if isMounted(target) {
				t.Fatal("a failed publish left a mount")
			}
		})
	}
}
