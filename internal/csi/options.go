package csi

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DriverName is the CSI driver name: the CSIDriver object's name and the
// "driver" of PersistentVolumes served by this plugin.
const DriverName = "s3.csi.bucketfs.io"

// DefaultKubeletDir is the kubelet's root directory on a standard node.
const DefaultKubeletDir = "/var/lib/kubelet"

// Options configure the CSI node plugin ("bucketfs csi" flags).
type Options struct {
	// Endpoint is where the gRPC server listens: unix:///path/csi.sock.
	Endpoint string
	// NodeID is the node's name as Kubernetes knows it (NodeGetInfo).
	// Default: the host name.
	NodeID string
	// KubeletDir is the kubelet's root directory: target paths must be
	// inside it.
	KubeletDir string
	// BucketfsPath is the bucketfs binary the mounts run. Default: this
	// executable (os.Executable).
	BucketfsPath string
	// MountLogDirectory, when set, makes every mount log to a directory
	// under it named after the volume (bucketfs --log-directory).
	MountLogDirectory string
	// Debug logs at debug level.
	Debug bool
}

// AddFlags registers the options' flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Endpoint, "endpoint", "unix:///var/lib/kubelet/plugins/"+DriverName+"/csi.sock", "CSI endpoint: unix:///path/csi.sock")
	fs.StringVar(&o.NodeID, "node-id", "", "node name reported to Kubernetes [default: the host name]")
	fs.StringVar(&o.KubeletDir, "kubelet-dir", DefaultKubeletDir, "kubelet root directory; volumes are only mounted inside it")
	fs.StringVar(&o.BucketfsPath, "bucketfs-path", "", "bucketfs binary that performs the mounts [default: this executable]")
	fs.StringVar(&o.MountLogDirectory, "mount-log-directory", "", "write each mount's log files to DIR/<volume id>/ [default: mounts do not log]")
	fs.BoolVar(&o.Debug, "debug", false, "log at debug level")
}

// ParseFlags parses the arguments of "bucketfs csi" into Options with
// defaults filled in and validated. With -h/--help it prints the usage on
// out and returns flag.ErrHelp.
func ParseFlags(args []string, out io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("bucketfs csi", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fmt.Fprintf(out, "Kubernetes CSI node plugin %s: mounts S3 buckets for pods with bucketfs.\n\nUsage: bucketfs csi [FLAGS]\n\n", DriverName)
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see 'bucketfs csi --help')", fs.Arg(0))
	}
	return o, o.Complete()
}

// Complete fills in the defaults that depend on the machine and validates o.
func (o *Options) Complete() error {
	if o.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("--node-id not given and the host name is unknown: %w", err)
		}
		o.NodeID = h
	}
	if o.BucketfsPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find this executable for mounts (give --bucketfs-path): %w", err)
		}
		o.BucketfsPath = exe
	}
	return o.Validate()
}

// Validate checks o without looking at the machine.
func (o *Options) Validate() error {
	if _, err := ParseEndpoint(o.Endpoint); err != nil {
		return err
	}
	if o.NodeID == "" {
		return errors.New("--node-id must not be empty")
	}
	for _, p := range []struct{ flag, path string }{
		{"--kubelet-dir", o.KubeletDir}, {"--bucketfs-path", o.BucketfsPath}, {"--mount-log-directory", o.MountLogDirectory},
	} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s must be an absolute path (got %q)", p.flag, p.path)
		}
	}
	if o.KubeletDir == "" || filepath.Clean(o.KubeletDir) == "/" {
		return fmt.Errorf("--kubelet-dir must be a directory other than / (got %q)", o.KubeletDir)
	}
	return nil
}

// ParseEndpoint returns the socket path of a unix:// endpoint: "unix:///p"
// and "unix://p" (relative, as some sidecars write it) are accepted.
func ParseEndpoint(ep string) (string, error) {
	u, err := url.Parse(ep)
	if err != nil || u.Scheme != "unix" {
		return "", fmt.Errorf("--endpoint must be a unix socket like unix:///csi/csi.sock (got %q)", ep)
	}
	p := u.Host + u.Path
	if p == "" || strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("--endpoint has no socket path (got %q)", ep)
	}
	return p, nil
}
