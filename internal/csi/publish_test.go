package csi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mountCap is a mount volume capability with mode and mount flags.
func mountCap(mode csi.VolumeCapability_AccessMode_Mode, flags ...string) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{MountFlags: flags}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: mode},
	}
}

const rwx = csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER

// TestPlanPublish: how a NodePublishVolume request becomes "bucketfs mount"
// arguments, and which requests are refused with InvalidArgument naming the
// attribute or option at fault.
func TestPlanPublish(t *testing.T) {
	const target = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/s3-pv/mount"
	attrs := map[string]string{"bucketName": "eks-mount-bucket"}
	tests := []struct {
		name     string
		attrs    map[string]string
		cap      *csi.VolumeCapability
		readonly bool
		logDir   string
		args     []string // after BUCKET TARGET
		bucket   string   // BUCKET argument; default eks-mount-bucket
		source   string   // default s3://eks-mount-bucket
		readOnly bool
		dropped  []string
		err      string // substring of an InvalidArgument message
	}{
		{name: "issue example", cap: mountCap(rwx, "allow-delete", "region us-east-1"),
			args: []string{"--allow-delete", "--region=us-east-1"}},
		{name: "all option forms", cap: mountCap(rwx, "uid=1000", "--gid=1000", "--file-mode 0640", "allow_other", "endpoint-url=http://minio.local:9000", "force-path-style"),
			args: []string{"--uid=1000", "--gid=1000", "--file-mode=0640", "--allow-other", "--endpoint-url=http://minio.local:9000", "--force-path-style"}},
		{name: "prefix option", cap: mountCap(rwx, "prefix some/"),
			args: []string{"--prefix=some/"}, source: "s3://eks-mount-bucket/some/"},
		{name: "prefix attribute", attrs: map[string]string{"bucketName": "eks-mount-bucket", "prefix": "a/b/"}, cap: mountCap(rwx),
			bucket: "eks-mount-bucket/a/b/", source: "s3://eks-mount-bucket/a/b/"},
		{name: "kubernetes attributes ignored", attrs: map[string]string{"bucketName": "eks-mount-bucket", "csi.storage.k8s.io/pod.name": "p"}, cap: mountCap(rwx)},
		{name: "readonly publish", cap: mountCap(rwx, "allow-delete", "allow-overwrite", "region us-east-1"), readonly: true,
			args: []string{"--region=us-east-1", "--read-only"}, readOnly: true, dropped: []string{"allow-delete", "allow-overwrite"}},
		{name: "reader-only mode", cap: mountCap(csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY, "read-only"),
			args: []string{"--read-only"}, readOnly: true},
		{name: "read-only option", cap: mountCap(csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER, "read-only"),
			args: []string{"--read-only"}, readOnly: true},
		{name: "read-only option keeps write options (bucketfs refuses the mix)", cap: mountCap(rwx, "allow-delete", "read-only"),
			args: []string{"--allow-delete", "--read-only"}, readOnly: true},
		{name: "posix mode", cap: mountCap(rwx, "posix", "max-cache-size=2048"),
			args: []string{"--posix", "--max-cache-size=2048"}},
		{name: "readonly publish drops posix", cap: mountCap(rwx, "posix", "allow-rename"), readonly: true,
			args: []string{"--read-only"}, readOnly: true, dropped: []string{"posix", "allow-rename"}},
		{name: "cache-dir refused", cap: mountCap(rwx, "posix", "cache-dir=/host/path"), err: "cache-dir"},
		{name: "log directory", cap: mountCap(rwx), logDir: "/var/log/bucketfs",
			args: []string{"--log-directory=/var/log/bucketfs/vol_1"}},

		{name: "no bucket", attrs: map[string]string{}, cap: mountCap(rwx), err: "volumeAttributes.bucketName is missing"},
		{name: "unknown attribute", attrs: map[string]string{"bucket": "b"}, cap: mountCap(rwx), err: `unknown volume attribute "bucket"`},
		{name: "bucket with slash", attrs: map[string]string{"bucketName": "b/p/"}, cap: mountCap(rwx), err: `volumeAttributes.bucketName="b/p/" must be a bare bucket name`},
		{name: "prefix attribute without slash", attrs: map[string]string{"bucketName": "b-1", "prefix": "p"}, cap: mountCap(rwx), err: `volumeAttributes.prefix="p" must end with '/'`},
		{name: "prefix twice", attrs: map[string]string{"bucketName": "b-1", "prefix": "p/"}, cap: mountCap(rwx, "prefix q/"), err: "the prefix is given twice"},
		{name: "prefix option without slash", cap: mountCap(rwx, "prefix q"), err: `mount option "prefix q": the prefix must end with '/'`},
		{name: "block", cap: &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: rwx}}, err: "block access is not supported"},
		{name: "no access type", cap: &csi.VolumeCapability{AccessMode: &csi.VolumeCapability_AccessMode{Mode: rwx}}, err: "no mount access type"},
		{name: "unknown mode", cap: mountCap(csi.VolumeCapability_AccessMode_UNKNOWN), err: "access mode UNKNOWN is not supported"},
		{name: "raw -o", cap: mountCap(rwx, "-o allow_other"), err: `mount option "-o allow_other" is refused: raw -o`},
		{name: "o=", cap: mountCap(rwx, "o=allow_other"), err: `mount option "o=allow_other" is refused: raw -o`},
		{name: "short flag", cap: mountCap(rwx, "-d"), err: `mount option "-d" is refused`},
		{name: "ca-bundle", cap: mountCap(rwx, "ca-bundle /var/lib/kubelet/pods/x/ca.pem"), err: `mount option "ca-bundle" is refused`},
		{name: "ca_bundle", cap: mountCap(rwx, "--ca_bundle=/x"), err: `mount option "ca_bundle" is refused`},
		{name: "log-directory", cap: mountCap(rwx, "log-directory /etc"), err: `mount option "log-directory" is refused`},
		{name: "profile", cap: mountCap(rwx, "profile admin"), err: `mount option "profile" is refused`},
		{name: "foreground", cap: mountCap(rwx, "foreground"), err: `mount option "foreground" is refused`},
		{name: "unknown option", cap: mountCap(rwx, "bogus"), err: `unknown option "bogus"`},
		{name: "mount-s3 only option", cap: mountCap(rwx, "cache /tmp"), err: `"cache" is a mount-s3 option that bucketfs does not support`},
		{name: "missing value", cap: mountCap(rwx, "region"), err: `option "region" needs a value`},
		{name: "value on a boolean", cap: mountCap(rwx, "allow-delete=true"), err: `option "allow-delete" takes no value`},
		{name: "empty option", cap: mountCap(rwx, " "), err: `mount option " "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.attrs
			if a == nil {
				a = attrs
			}
			req := &csi.NodePublishVolumeRequest{VolumeId: "vol/1", TargetPath: target, VolumeCapability: tt.cap, VolumeContext: a, Readonly: tt.readonly}
			p, err := planPublish(req, target, tt.logDir)
			if tt.err != "" {
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.err) {
					t.Fatalf("err = %v, want InvalidArgument containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			bucket, source := tt.bucket, tt.source
			if bucket == "" {
				bucket = "eks-mount-bucket"
			}
			if source == "" {
				source = "s3://eks-mount-bucket"
			}
			want := append([]string{bucket, target}, tt.args...)
			if !reflect.DeepEqual(p.args, want) {
				t.Errorf("args = %q\nwant   %q", p.args, want)
			}
			if p.source != source || p.readOnly != tt.readOnly || !reflect.DeepEqual(p.dropped, tt.dropped) {
				t.Errorf("source %q read-only %v dropped %q; want %q %v %q", p.source, p.readOnly, p.dropped, source, tt.readOnly, tt.dropped)
			}
		})
	}
}

func TestValidateVolume(t *testing.T) {
	if err := ValidateVolume(map[string]string{"bucketName": "eks-mount-bucket"}, []string{"allow-delete", "region us-east-1"}); err != nil {
		t.Errorf("the issue's PV: %v", err)
	}
	if err := ValidateVolume(map[string]string{"bucketName": "b-1"}, []string{"-o allow_other"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("raw -o: %v", err)
	}
}
