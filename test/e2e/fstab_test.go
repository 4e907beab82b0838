package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/mountinfo"
)

// helperLink is where mount(8) looks for the helper of type bucketfs.
const helperLink = "/sbin/mount.bucketfs"

// installHelper links /sbin/mount.bucketfs to the binary under test for the
// test's duration. It refuses to replace anything but a link to an earlier
// test binary (a real installation stays untouched; the test then fails).
func installHelper(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the mount(8) helper tests need root (to link " + helperLink + " and to run mount)")
	}
	if cur, err := os.Readlink(helperLink); err == nil {
		if !strings.Contains(cur, "bucketfs-e2e-bin-") {
			t.Fatalf("%s already links to %s, not a bucketfs test binary: not replacing it", helperLink, cur)
		}
		if err := os.Remove(helperLink); err != nil {
			t.Fatal(err)
		}
	} else if _, err := os.Lstat(helperLink); err == nil {
		t.Fatalf("%s exists and is not a link: not replacing an installed helper", helperLink)
	}
	if err := os.Symlink(bin, helperLink); err != nil {
		t.Fatalf("linking %s: %v", helperLink, err)
	}
	t.Cleanup(func() {
		if cur, _ := os.Readlink(helperLink); cur == bin {
			os.Remove(helperLink)
		}
	})
}

// mount8 runs util-linux mount(8) (or umount) with the MinIO credentials in
// the environment, as a boot script or an admin's shell would have them.
func mount8(t *testing.T, env []string, prog string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(env, "PATH="+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// minioOptions are the fstab options that reach the test MinIO.
func minioOptions(endpoint, region string) string {
	return "endpoint-url=" + endpoint + ",force-path-style,region=" + region
}

// TestMountTypeBucketfs: "mount -t bucketfs BUCKET DIR -o ..." mounts for real
// through /sbin/mount.bucketfs, generic options are accepted, and umount(8)
// unmounts it.
func TestMountTypeBucketfs(t *testing.T) {
	installHelper(t)
	srv, bucket, c := newBucket(t, map[string]string{"hello.txt": "hello", "gone.txt": "x"})
	dir := t.TempDir()
	m := &mnt{t: t, srv: srv, bucket: bucket, dir: dir, s3: c}
	t.Cleanup(func() { unmount(t, dir) })

	opts := "allow-delete,_netdev,nofail,rw,nosuid,nodev,noatime,x-systemd.automount," + minioOptions(srv.Endpoint, srv.Region)
	out, err := mount8(t, srv.Env(), "mount", "-t", "bucketfs", bucket, dir, "-o", opts)
	if err != nil {
		t.Fatalf("mount -t bucketfs: %v\n%s", err, out)
	}
	if out != "" {
		t.Errorf("mount printed %q; helpers are quiet unless -v", out)
	}
	if !isMounted(dir) {
		t.Fatal("mount -t bucketfs returned 0 but nothing is mounted")
	}
	if got := m.mustSh("cat hello.txt"); got != "hello" {
		t.Errorf("cat = %q", got)
	}
	m.mustSh("echo new > new.txt && rm gone.txt") // writes work, allow-delete took effect
	if b, ok := m.object("new.txt"); !ok || string(b) != "new\n" {
		t.Errorf("new.txt in the bucket = %q, %v", b, ok)
	}
	if _, ok := m.object("gone.txt"); ok {
		t.Error("gone.txt still in the bucket after rm")
	}
	if src := mountSource(t, dir); src != "s3://"+bucket {
		t.Errorf("mount source %q, want s3://%s", src, bucket)
	}
	if out, err := mount8(t, nil, "umount", dir); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	if isMounted(dir) {
		t.Fatal("still mounted after umount")
	}
	waitNoDaemon(t, dir)
}

// TestFstabLines: the fstab line of the issue (with the options to reach
// MinIO added) mounts with "mount --fstab FILE DIR", and "ro" is read-only.
func TestFstabLines(t *testing.T) {
	installHelper(t)
	srv, bucket, c := newBucket(t, map[string]string{"prefix/in.txt": "in", "out.txt": "out"})
	rwDir, roDir := t.TempDir(), t.TempDir()
	t.Cleanup(func() { unmount(t, rwDir); unmount(t, roDir) })
	fstab := filepath.Join(t.TempDir(), "fstab")
	lines := "# test fstab\n" +
		"s3://" + bucket + "/prefix/ " + rwDir + " bucketfs _netdev,nosuid,nodev,nofail,rw,allow-delete," + minioOptions(srv.Endpoint, srv.Region) + " 0 0\n" +
		bucket + " " + roDir + " bucketfs ro,noauto,user,x-systemd.requires=network-online.target," + minioOptions(srv.Endpoint, srv.Region) + " 0 0\n"
	if err := os.WriteFile(fstab, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, dir := range []string{rwDir, roDir} {
		if out, err := mount8(t, srv.Env(), "mount", "--fstab", fstab, dir); err != nil {
			t.Fatalf("mount --fstab %s %s: %v\n%s", fstab, dir, err, out)
		}
		if !isMounted(dir) {
			t.Fatalf("%s not mounted", dir)
		}
	}
	// mount -a finds the s3:// line mounted (same source in the mount
	// table) and leaves it alone; the other line is noauto.
	if out, err := mount8(t, srv.Env(), "mount", "--fstab", fstab, "-a", "-v"); err != nil {
		t.Fatalf("mount --fstab %s -a: %v\n%s", fstab, err, out)
	} else if !strings.Contains(out, rwDir+": already mounted") {
		t.Errorf("mount -a -v does not see %s as already mounted: %q", rwDir, out)
	}
	if n := mountCount(t, rwDir); n != 1 {
		t.Errorf("%d mounts at %s after mount -a, want 1", n, rwDir)
	}
	rw := &mnt{t: t, srv: srv, bucket: bucket, dir: rwDir, s3: c}
	if got := rw.mustSh("ls; cat in.txt"); got != "in.txt\nin" {
		t.Errorf("prefix mount shows %q, want only in.txt", got)
	}
	rw.mustSh("echo w > w.txt")
	if _, ok := rw.object("prefix/w.txt"); !ok {
		t.Error("a file written in the prefix mount is not in the bucket under the prefix")
	}
	ro := &mnt{t: t, srv: srv, bucket: bucket, dir: roDir, s3: c}
	if got := ro.mustSh("cat out.txt"); got != "out" {
		t.Errorf("cat = %q", got)
	}
	ro.shFails("touch new.txt", "Read-only file system")
	if !slices.Contains(strings.Split(mountOptions(t, roDir), ","), "ro") {
		t.Errorf("read-only mount has options %q", mountOptions(t, roDir))
	}
	for _, dir := range []string{rwDir, roDir} {
		if out, err := mount8(t, nil, "umount", dir); err != nil {
			t.Fatalf("umount %s: %v\n%s", dir, err, out)
		}
	}
}

// TestHelperRefusesBadOptions: mistakes come back through mount(8) as one
// line naming the option, with nothing mounted; -f (fake) mounts nothing.
func TestHelperRefusesBadOptions(t *testing.T) {
	installHelper(t)
	srv, bucket, _ := newBucket(t, nil)
	dir := t.TempDir()
	t.Cleanup(func() { unmount(t, dir) })
	base := minioOptions(srv.Endpoint, srv.Region)
	tests := []struct{ opts, want string }{
		{"bogus," + base, `unknown option "bogus": not a bucketfs mount option`},
		{"ro,allow-delete," + base, "--read-only and --allow-delete cannot be used together"},
		{"region," + base, `option "region" needs a value`},
		{"foreground," + base, "must not stay in the foreground"},
	}
	for _, tt := range tests {
		out, err := mount8(t, srv.Env(), "mount", "-t", "bucketfs", bucket, dir, "-o", tt.opts)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("mount -o %s: %v, output %q; want failure naming %q", tt.opts, err, out, tt.want)
		}
		if isMounted(dir) {
			t.Fatalf("mount -o %s failed but left %s mounted", tt.opts, dir)
		}
	}
	// mount.bucketfs -f checks and mounts nothing.
	cmd := exec.Command(helperLink, bucket, dir, "-f", "-o", "allow-delete,"+base)
	cmd.Env = srv.Env()
	if out, err := cmd.CombinedOutput(); err != nil || isMounted(dir) {
		t.Errorf("mount.bucketfs -f: %v %q, mounted %v", err, out, isMounted(dir))
	}
}

// mountTable is the mount table of this process.
func mountTable(t *testing.T) []mountinfo.Entry {
	t.Helper()
	entries, err := mountinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// mountCount counts the mounts at dir.
func mountCount(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, e := range mountTable(t) {
		if e.MountPoint == dir {
			n++
		}
	}
	return n
}

// mountSource and mountOptions return the source and per-mount options of
// the topmost mount at dir.
func mountSource(t *testing.T, dir string) string  { return mountAt(t, dir).Source }
func mountOptions(t *testing.T, dir string) string { return mountAt(t, dir).Options }

func mountAt(t *testing.T, dir string) *mountinfo.Entry {
	t.Helper()
	e := mountinfo.Last(mountTable(t), dir)
	if e == nil {
		t.Fatalf("%s not in the mount table", dir)
	}
	return e
}
