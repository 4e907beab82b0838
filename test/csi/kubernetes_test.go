// Package csitest checks the deployment files under deploy/ without a
// cluster, an AWS account or a Docker engine: the Kubernetes manifests are
// decoded strictly into the typed API objects and checked against the
// driver's own flag parsing and option policy; the ECS, systemd and Docker
// files are checked for the fields that make the pattern work.
package csitest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"

	bcsi "github.com/bucketfs/bucketfs/internal/csi"
)

// repoRoot is the repository's root directory.
func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// objects are the decoded manifests, by kind.
type objects struct {
	drivers    []storagev1.CSIDriver
	daemonSets []appsv1.DaemonSet
	accounts   []corev1.ServiceAccount
	pvs        []corev1.PersistentVolume
	pvcs       []corev1.PersistentVolumeClaim
	pods       []corev1.Pod
}

// decodeManifests decodes every document of every .yaml file under dir
// (kustomization.yaml aside) into its typed object, refusing unknown fields.
func decodeManifests(t *testing.T, dir string) objects {
	t.Helper()
	var objs objects
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.yaml"))
	files = append(files, more...)
	if len(files) < 4 {
		t.Fatalf("only %d manifests under %s", len(files), dir)
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var meta struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var target any
			switch meta.APIVersion + " " + meta.Kind {
			case "storage.k8s.io/v1 CSIDriver":
				target = add(&objs.drivers)
			case "apps/v1 DaemonSet":
				target = add(&objs.daemonSets)
			case "v1 ServiceAccount":
				target = add(&objs.accounts)
			case "v1 PersistentVolume":
				target = add(&objs.pvs)
			case "v1 PersistentVolumeClaim":
				target = add(&objs.pvcs)
			case "v1 Pod":
				target = add(&objs.pods)
			default:
				// RBAC objects are deliberately absent: the plugin calls no API.
				t.Fatalf("%s document %d: unexpected %s %s", f, i, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, target); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, meta.Kind, err)
			}
		}
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	objs := decodeManifests(t, dir)

	if len(objs.drivers) != 1 {
		t.Fatalf("%d CSIDriver objects, want 1", len(objs.drivers))
	}
	drv := objs.drivers[0]
	if drv.Name != bcsi.DriverName {
		t.Errorf("CSIDriver name %q, want %q", drv.Name, bcsi.DriverName)
	}
	if drv.Spec.AttachRequired == nil || *drv.Spec.AttachRequired {
		t.Error("CSIDriver must set attachRequired: false (there is no controller)")
	}
	if drv.Spec.FSGroupPolicy == nil || *drv.Spec.FSGroupPolicy != storagev1.NoneFSGroupPolicy {
		t.Error("CSIDriver must set fsGroupPolicy: None (no recursive chown of a bucket)")
	}
	if len(drv.Spec.VolumeLifecycleModes) != 1 || drv.Spec.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
		t.Errorf("volumeLifecycleModes %v, want [Persistent]", drv.Spec.VolumeLifecycleModes)
	}

	if len(objs.daemonSets) != 1 || len(objs.accounts) != 1 {
		t.Fatalf("%d DaemonSets and %d ServiceAccounts, want 1 and 1", len(objs.daemonSets), len(objs.accounts))
	}
	checkDaemonSet(t, objs.daemonSets[0], objs.accounts[0])
	checkKustomization(t, dir)
	checkExamples(t, objs)
}

// checkDaemonSet checks the node plugin against the driver's flag parsing:
// the kubelet directory is mounted from the host at the same path with
// Bidirectional propagation, the socket directory is the one the registrar
// registers, and the container is privileged.
func checkDaemonSet(t *testing.T, ds appsv1.DaemonSet, sa corev1.ServiceAccount) {
	spec := ds.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name || ds.Namespace != sa.Namespace {
		t.Errorf("DaemonSet %s/%s uses service account %q; rbac.yaml defines %s/%s", ds.Namespace, ds.Name, spec.ServiceAccountName, sa.Namespace, sa.Name)
	}
	if ds.Spec.Selector == nil || ds.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != ds.Spec.Template.Labels["app.kubernetes.io/name"] {
		t.Error("the DaemonSet's selector does not match its pod labels")
	}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = filepath.Clean(v.HostPath.Path)
		}
	}
	containers := map[string]corev1.Container{}
	for _, c := range spec.Containers {
		containers[c.Name] = c
	}
	plugin, ok := containers["bucketfs-csi"]
	if !ok {
		t.Fatal("no bucketfs-csi container")
	}
	if plugin.SecurityContext == nil || plugin.SecurityContext.Privileged == nil || !*plugin.SecurityContext.Privileged {
		t.Error("the bucketfs-csi container must be privileged (/dev/fuse, mounts for the kubelet)")
	}
	if len(plugin.Args) == 0 || plugin.Args[0] != "csi" {
		t.Fatalf("bucketfs-csi args %q must start with the csi command", plugin.Args)
	}
	nodeNameFromSpec := false
	for _, e := range plugin.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeNameFromSpec = true
		}
	}
	if !nodeNameFromSpec {
		t.Error("NODE_NAME must come from spec.nodeName (it is the --node-id)")
	}
	args := make([]string, len(plugin.Args)-1)
	for i, a := range plugin.Args[1:] {
		args[i] = strings.ReplaceAll(a, "$(NODE_NAME)", "node-1")
	}
	opts, err := bcsi.ParseFlags(args, nil)
	if err != nil {
		t.Fatalf("bucketfs csi %q: %v", args, err)
	}
	if opts.NodeID != "node-1" {
		t.Errorf("--node-id = %q, want $(NODE_NAME)", opts.NodeID)
	}
	sock, _ := bcsi.ParseEndpoint(opts.Endpoint)

	mounts := map[string]corev1.VolumeMount{}
	kubeletMounted := false
	for _, m := range plugin.VolumeMounts {
		mounts[m.Name] = m
		if filepath.Clean(m.MountPath) == filepath.Clean(opts.KubeletDir) {
			kubeletMounted = true
			if m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationBidirectional {
				t.Errorf("%s must be mounted with mountPropagation: Bidirectional", m.MountPath)
			}
			if hostPaths[m.Name] != filepath.Clean(opts.KubeletDir) {
				t.Errorf("%s comes from host path %q; it must be the same path on the host", m.MountPath, hostPaths[m.Name])
			}
		}
	}
	if !kubeletMounted {
		t.Errorf("--kubelet-dir %s is not a volume mount of the plugin", opts.KubeletDir)
	}
	// The socket's directory in the container, and on the host.
	hostSock := ""
	for name, m := range mounts {
		if filepath.Dir(sock) == filepath.Clean(m.MountPath) {
			hostSock = filepath.Join(hostPaths[name], filepath.Base(sock))
		}
	}
	wantHostSock := filepath.Join(opts.KubeletDir, "plugins", bcsi.DriverName, "csi.sock")
	if hostSock != wantHostSock {
		t.Errorf("the socket %s is at %q on the host, want %s", sock, hostSock, wantHostSock)
	}

	reg, ok := containers["node-driver-registrar"]
	if !ok {
		t.Fatal("no node-driver-registrar container")
	}
	wantArgs := map[string]string{"--csi-address": sock, "--kubelet-registration-path": wantHostSock}
	for _, a := range reg.Args {
		name, value, _ := strings.Cut(a, "=")
		if want, ok := wantArgs[name]; ok {
			if value != want {
				t.Errorf("registrar %s=%s, want %s", name, value, want)
			}
			delete(wantArgs, name)
		}
	}
	if len(wantArgs) > 0 {
		t.Errorf("registrar lacks %v", wantArgs)
	}
	regDir := false
	for _, m := range reg.VolumeMounts {
		if m.MountPath == "/registration" && hostPaths[m.Name] == filepath.Join(opts.KubeletDir, "plugins_registry") {
			regDir = true
		}
	}
	if !regDir {
		t.Error("the registrar must mount the kubelet's plugins_registry at /registration")
	}
	for _, c := range spec.Containers {
		if c.Name != "bucketfs-csi" && (!strings.Contains(c.Image, ":v") || strings.HasSuffix(c.Image, ":latest")) {
			t.Errorf("sidecar %s image %q is not pinned to a version", c.Name, c.Image)
		}
	}
	if lp, ok := containers["liveness-probe"]; !ok || !contains(lp.Args, "--csi-address="+sock) ||
		plugin.LivenessProbe == nil || plugin.LivenessProbe.HTTPGet == nil || plugin.LivenessProbe.HTTPGet.Port.String() != "healthz" {
		t.Error("the liveness-probe sidecar must probe the plugin's socket, and the plugin's livenessProbe use it")
	}
}

func checkKustomization(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"csidriver.yaml", "rbac.yaml", "node.yaml"} {
		if !contains(k.Resources, want) {
			t.Errorf("kustomization.yaml lacks %s", want)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
}

// checkExamples checks the PV/PVC/Pod examples: the shape, and every
// PV acceptable to the driver as it will be published.
func checkExamples(t *testing.T, objs objects) {
	pvs := map[string]corev1.PersistentVolume{}
	for _, pv := range objs.pvs {
		pvs[pv.Name] = pv
		c := pv.Spec.CSI
		if c == nil || c.Driver != bcsi.DriverName || c.VolumeHandle == "" {
			t.Errorf("PV %s: csi %+v, want driver %s and a volumeHandle", pv.Name, c, bcsi.DriverName)
			continue
		}
		if err := bcsi.ValidateVolume(c.VolumeAttributes, pv.Spec.MountOptions); err != nil {
			t.Errorf("PV %s would be refused by the driver: %v", pv.Name, err)
		}
	}
	pv, ok := pvs["s3-pv"]
	if !ok {
		t.Fatal("the issue's example PV s3-pv is missing")
	}
	if pv.Spec.CSI.VolumeHandle != "s3-csi-driver-volume" || pv.Spec.CSI.VolumeAttributes["bucketName"] != "eks-mount-bucket" ||
		!equal(pv.Spec.MountOptions, []string{"allow-delete", "region us-east-1"}) ||
		len(pv.Spec.AccessModes) != 1 || pv.Spec.AccessModes[0] != corev1.ReadWriteMany ||
		pv.Spec.Capacity.Storage().String() != "1Mi" {
		t.Errorf("PV s3-pv differs from the issue's example: %+v", pv.Spec)
	}
	claims := map[string]corev1.PersistentVolumeClaim{}
	for _, pvc := range objs.pvcs {
		claims[pvc.Name] = pvc
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
			t.Errorf("PVC %s: storageClassName must be \"\" for static provisioning", pvc.Name)
		}
		if _, ok := pvs[pvc.Spec.VolumeName]; !ok {
			t.Errorf("PVC %s binds to PV %q, not in the examples", pvc.Name, pvc.Spec.VolumeName)
		}
	}
	dataMounted := false
	for _, pod := range objs.pods {
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			claim, ok := claims[v.PersistentVolumeClaim.ClaimName]
			if !ok {
				t.Errorf("pod %s uses claim %q, not in the examples", pod.Name, v.PersistentVolumeClaim.ClaimName)
			}
			for _, c := range pod.Spec.Containers {
				for _, m := range c.VolumeMounts {
					if m.Name == v.Name && m.MountPath == "/data" && claim.Spec.VolumeName == "s3-pv" {
						dataMounted = true
					}
				}
			}
		}
	}
	if !dataMounted {
		t.Error("no example pod mounts the claim of s3-pv at /data")
	}
}

// add appends a zero T to *list and returns a pointer to it to decode into.
func add[T any](list *[]T) any {
	var zero T
	*list = append(*list, zero)
	return &(*list)[len(*list)-1]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
