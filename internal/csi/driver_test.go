package csi

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	mountutils "k8s.io/mount-utils"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct{ ep, path, err string }{
		{"unix:///csi/csi.sock", "/csi/csi.sock", ""},
		{"unix://csi/csi.sock", "csi/csi.sock", ""},
		{"unix:/csi/csi.sock", "/csi/csi.sock", ""},
		{"tcp://127.0.0.1:10000", "", "must be a unix socket"},
		{"/csi/csi.sock", "", "must be a unix socket"},
		{"unix://", "", "no socket path"},
		{"unix:///csi/", "", "no socket path"},
	}
	for _, tt := range tests {
		p, err := ParseEndpoint(tt.ep)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) || p != tt.path {
			t.Errorf("ParseEndpoint(%q) = %q, %v; want %q, %q", tt.ep, p, err, tt.path, tt.err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := ParseFlags([]string{"--endpoint=unix:///tmp/c.sock", "--node-id", "n1", "--kubelet-dir", "/data/kubelet"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if o.Endpoint != "unix:///tmp/c.sock" || o.NodeID != "n1" || o.KubeletDir != "/data/kubelet" || o.BucketfsPath != exe {
		t.Errorf("options = %+v", o)
	}
	o, err = ParseFlags(nil, nil)
	host, _ := os.Hostname()
	if err != nil || o.NodeID != host || o.KubeletDir != DefaultKubeletDir || !strings.HasSuffix(o.Endpoint, "/plugins/s3.csi.bucketfs.io/csi.sock") {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--kubelet-dir", "relative"}, {"--kubelet-dir", "/"}, {"--endpoint", "tcp://x"},
		{"--bucketfs-path", "bin/bucketfs"}, {"--bogus"}, {"extra"},
	} {
		if _, err := ParseFlags(args, nil); err == nil {
			t.Errorf("ParseFlags(%q) succeeded", args)
		}
	}
	var out bytes.Buffer
	if _, err := ParseFlags([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-kubelet-dir") {
		t.Errorf("--help: %v, %q", err, out.String())
	}
}

// TestServeOverSocket: Run serves the Identity and Node services on the
// endpoint's unix socket, replaces a stale socket, and removes it on stop.
func TestServeOverSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "plugins", "csi.sock")
	os.MkdirAll(filepath.Dir(sock), 0o750)
	stale, err := Listen(sock) // a socket file left behind by an earlier run
	if err != nil {
		t.Fatal(err)
	}
	stale.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	stale.Close()

	var logs bytes.Buffer
	opts := Options{Endpoint: "unix://" + sock, NodeID: "n1", KubeletDir: dir, BucketfsPath: "/nonexistent/bucketfs"}
	d := New(opts, newFakeMounter(), slog.New(slog.NewTextHandler(&logs, nil)), "1.2.3")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := csi.NewIdentityClient(conn)
	var info *csi.GetPluginInfoResponse
	for i := 0; i < 50; i++ { // the server starts in the background
		if info, err = id.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || info.GetName() != DriverName || info.GetVendorVersion() != "1.2.3" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	caps, err := id.GetPluginCapabilities(ctx, &csi.GetPluginCapabilitiesRequest{})
	if err != nil || len(caps.GetCapabilities()) != 0 {
		t.Errorf("GetPluginCapabilities = %v, %v; want no capabilities (no controller)", caps, err)
	}
	_, err = id.Probe(ctx, &csi.ProbeRequest{})
	wantCode(t, "probe without the binary", err, codes.FailedPrecondition, "/nonexistent/bucketfs is missing")
	_, err = csi.NewNodeClient(conn).NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "v", TargetPath: "/etc/x"})
	wantCode(t, "publish outside", err, codes.InvalidArgument, "outside the kubelet directory")
	_, err = csi.NewControllerClient(conn).ControllerGetCapabilities(ctx, &csi.ControllerGetCapabilitiesRequest{})
	wantCode(t, "controller", err, codes.Unimplemented, "")

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after stop: %v", err)
	}
	if !strings.Contains(logs.String(), "code=InvalidArgument") || !strings.Contains(logs.String(), "target=/etc/x") {
		t.Errorf("failed call not logged with its code and target:\n%s", logs.String())
	}
}

func TestProbeReady(t *testing.T) {
	if _, err := os.Stat(devFuse); err != nil {
		t.Fatalf("%s missing: this test needs FUSE (%v)", devFuse, err)
	}
	exe, _ := os.Executable()
	d := New(Options{BucketfsPath: exe}, newFakeMounter(), slog.New(slog.DiscardHandler), "v")
	r, err := (&identityServer{d: d}).Probe(context.Background(), &csi.ProbeRequest{})
	if err != nil || !r.GetReady().GetValue() {
		t.Errorf("Probe = %v, %v", r, err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	p := filepath.Join(t.TempDir(), "csi.sock")
	os.WriteFile(p, []byte("x"), 0o600)
	if _, err := Listen(p); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
}

func TestFindMount(t *testing.T) {
	info := `22 1 0:21 / /proc rw,nosuid - proc proc rw
97 22 0:50 / /var/lib/kubelet/pods/p/mount rw,nosuid,nodev - fuse.bucketfs s3://b-1 rw,user_id=0
98 97 0:51 / /var/lib/kubelet/pods/p/mount ro,nosuid,nodev - fuse.bucketfs s3://b-2/pre/ ro,user_id=0
99 22 0:52 / /var/lib/kubelet/pods/with\040space/mount rw - fuse.bucketfs s3://b-3 rw
`
	f := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(f, []byte(info), 0o600)
	infos, err := mountutils.ParseMountInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	mp := findMount(infos, "/var/lib/kubelet/pods/p/mount")
	if mp == nil || mp.Source != "s3://b-2/pre/" || !mp.ReadOnly || mp.FSType != FSType {
		t.Errorf("topmost mount = %+v", mp)
	}
	if mp := findMount(infos, "/var/lib/kubelet/pods/with space/mount"); mp == nil || mp.Source != "s3://b-3" || mp.ReadOnly {
		t.Errorf("escaped mount = %+v", mp)
	}
	if mp := findMount(infos, "/var/lib/kubelet/pods/q/mount"); mp != nil {
		t.Errorf("not a mount point: %+v", mp)
	}
}

func TestRedactArgs(t *testing.T) {
	got := redactArgs([]string{"b-1", "/t", "--endpoint-url=https://AKIA:secret@s3.local:9000/", "--allow-delete"})
	if strings.Contains(strings.Join(got, " "), "secret") || got[2] != "--endpoint-url=https://REDACTED@s3.local:9000/" || got[3] != "--allow-delete" {
		t.Errorf("redactArgs = %q", got)
	}
}

func TestKeyedMutexReleasesEntries(t *testing.T) {
	var k keyedMutex
	u1 := k.lock("a")
	u2 := k.lock("b")
	u1()
	u2()
	if len(k.locks) != 0 {
		t.Errorf("%d lock entries left", len(k.locks))
	}
}
