package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// POSIX mode (--posix) through real FUSE on MinIO, with the tools users
// run; the bucket is checked from a plain S3 client and through a second,
// fresh mount of the same bucket (no local state shared).

// needTools fails (never skips) when a tool the test drives is missing;
// scripts/install-deps.sh installs them.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/install-deps.sh installs it)", tool)
		}
	}
}

// posixMount mounts a new bucket with --posix.
func posixMount(t *testing.T, objects map[string]string, flags ...string) *mnt {
	t.Helper()
	return mount(t, objects, append([]string{"--posix"}, flags...)...)
}

// again mounts m's bucket a second time, in a fresh directory, with --posix.
func (m *mnt) again(flags ...string) *mnt {
	m.t.Helper()
	return mountBucket(m.t, m.srv, m.bucket, m.s3, m.bucket, append([]string{"--posix"}, flags...)...)
}

// wantObject requires key's object to hold want.
func (m *mnt) wantObject(key, want string) {
	m.t.Helper()
	got, ok := m.object(key)
	if !ok {
		m.t.Fatalf("object %q is missing (keys %v)", key, m.keys())
	}
	if string(got) != want {
		m.t.Fatalf("object %q = %q, want %q", key, got, want)
	}
}

func TestPosixAppendsFromSeparateProcesses(t *testing.T) {
	m := posixMount(t, map[string]string{"log.txt": "first\n"})
	m.mustSh(`echo second >> log.txt; bash -c 'echo third >> log.txt'; printf fourth >> log.txt`)
	m.wantObject("log.txt", "first\nsecond\nthird\nfourth")
	if out := m.again().mustSh("cat log.txt"); out != "first\nsecond\nthird\nfourth" {
		t.Fatalf("fresh mount reads %q", out)
	}
}

func TestPosixSedAndVimEditInPlace(t *testing.T) {
	needTools(t, "sed", "vim")
	m := posixMount(t, map[string]string{"conf.ini": "color=red\nsize=1\n"})
	m.mustSh(`sed -i 's/red/blue/' conf.ini`)
	m.wantObject("conf.ini", "color=blue\nsize=1\n")
	m.mustSh(`vim -u NONE -i NONE -es -c '%s/size=1/size=2/' -c 'wq' conf.ini`)
	m.wantObject("conf.ini", "color=blue\nsize=2\n")
	for _, k := range m.keys() {
		if k != "conf.ini" {
			t.Fatalf("an editor's temporary file was left: %v", m.keys())
		}
	}
}

// sourceTree makes a local tree of files, empty directories and symbolic
// links with modes and old modification times.
func sourceTree(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	sh := func(script string) {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	sh(`mkdir -p a/b empty deep/er/est && echo hello > a/f.txt && printf 'x%.0s' {1..70000} > a/b/big.txt &&
		echo '#!/bin/sh' > a/run.sh && chmod 750 a/run.sh && chmod 600 a/f.txt && chmod 711 deep &&
		ln -s f.txt a/link && ln -s ../a/b/big.txt deep/er/rel && echo x > deep/er/est/leaf &&
		touch -h -d '2021-03-04 05:06:07' a/link && find . -exec touch -h -d '2020-01-02 03:04:05' {} +`)
	return src
}

func TestPosixRsyncTwiceTransfersNothing(t *testing.T) {
	needTools(t, "rsync")
	src := sourceTree(t)
	m := posixMount(t, nil)
	m.mustSh(fmt.Sprintf("rsync -a %s/ dst/", src))
	// The second run, through a fresh mount, finds everything up to date.
	out := m.again().mustSh(fmt.Sprintf("rsync -a --stats %s/ dst/", src))
	if !strings.Contains(out, "Number of regular files transferred: 0") {
		t.Fatalf("second rsync transferred files:\n%s", out)
	}
	if diff := m.again().mustSh(fmt.Sprintf("rsync -a --dry-run --itemize-changes %s/ dst/", src)); diff != "" {
		t.Fatalf("rsync sees differences after a remount:\n%s", diff)
	}
}

func TestPosixTarExtractDiffsCleanAfterRemount(t *testing.T) {
	needTools(t, "tar")
	src := sourceTree(t)
	archive := filepath.Join(t.TempDir(), "t.tar")
	if out, err := exec.Command("tar", "cf", archive, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar cf: %v\n%s", err, out)
	}
	m := posixMount(t, nil)
	m.mustSh("mkdir x && tar xpf " + archive + " -C x")
	fresh := m.again()
	if out, err := fresh.sh("cd x && tar --diff -f " + archive); err != nil {
		t.Fatalf("tar --diff after remount: %v\n%s", err, out)
	}
	// Empty directories and symbolic links are objects in the bucket.
	keys := strings.Join(m.keys(), " ")
	for _, k := range []string{"x/empty/", "x/a/link", "x/deep/er/est/leaf"} {
		if !strings.Contains(keys, k) {
			t.Fatalf("key %q missing from %s", k, keys)
		}
	}
	m.wantObject("x/a/link", "f.txt")
}

func TestPosixGitFromAFreshMount(t *testing.T) {
	needTools(t, "git")
	m := posixMount(t, nil)
	m.mustSh(`git init -q repo && cd repo && git config user.email e@x && git config user.name n &&
		echo one > a && mkdir d && echo two > d/b && git add . && git commit -qm first &&
		git mv a c && git mv d e && git commit -qm second && git gc -q`)
	out := m.again().mustSh(`cd repo && git fsck --strict --full 2>&1 && git log --format=%s && git status --porcelain && cat c e/b`)
	if out != "second\nfirst\none\ntwo\n" {
		t.Fatalf("git from a fresh mount:\n%s", out)
	}
}

func TestPosixSqliteTransactionIsIntact(t *testing.T) {
	needTools(t, "sqlite3")
	m := posixMount(t, nil)
	var sql strings.Builder
	sql.WriteString("create table t(i integer primary key, v text); begin;")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sql, "insert into t(v) values('row %d');", i)
	}
	sql.WriteString("commit;")
	m.mustSh(fmt.Sprintf("sqlite3 db.sqlite %q", sql.String()))
	// Download the database with a plain S3 client and check it there.
	data, ok := m.object("db.sqlite")
	if !ok {
		t.Fatalf("no database object: %v", m.keys())
	}
	local := filepath.Join(t.TempDir(), "db.sqlite")
	os.WriteFile(local, data, 0o644)
	out, err := exec.Command("sqlite3", local, "pragma integrity_check; select count(*) from t;").CombinedOutput()
	if err != nil || string(out) != "ok\n1000\n" {
		t.Fatalf("downloaded database: %v\n%s", err, out)
	}
	if keys := m.keys(); len(keys) != 1 {
		t.Fatalf("journal left behind: %v", keys)
	}
}

func TestPosixZipMakesAValidArchive(t *testing.T) {
	needTools(t, "zip", "unzip")
	src := sourceTree(t)
	m := posixMount(t, nil)
	m.mustSh(fmt.Sprintf("cd %s && zip -qr %s/out.zip . && dd if=/dev/urandom of=%s/r.bin bs=1M count=12 status=none && cd %s && zip -q out.zip r.bin", src, m.dir, m.dir, m.dir))
	data, _ := m.object("out.zip")
	local := filepath.Join(t.TempDir(), "out.zip")
	os.WriteFile(local, data, 0o644)
	if out, err := exec.Command("unzip", "-tq", local).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t of the archive from the bucket: %v\n%s", err, out)
	}
}

func TestPosixMvFileAndDirectory(t *testing.T) {
	m := posixMount(t, map[string]string{"f.txt": "file", "d/x": "x", "d/sub/y": "y"})
	m.mustSh("mv f.txt g.txt && mv d e && mkdir -p z && mv g.txt z/")
	keys := strings.Join(m.keys(), " ")
	if keys != "e/sub/y e/x z/ z/g.txt" {
		t.Fatalf("keys after mv: %s", keys)
	}
	if out := m.again().mustSh("cat z/g.txt e/x e/sub/y"); out != "filexy" {
		t.Fatalf("fresh mount reads %q", out)
	}
}

func TestPosixTruncate(t *testing.T) {
	m := posixMount(t, map[string]string{"f": "0123456789"})
	m.mustSh("truncate -s 4 f")
	m.wantObject("f", "0123")
	m.mustSh("truncate -s 6 f")
	m.wantObject("f", "0123\x00\x00")
	m.mustSh(": > f")
	m.wantObject("f", "")
}

// Random pwrites on a multi-part object, compared byte for byte with a local model.
func TestPosixRandomPwritesMatchAModel(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	model := randomBytes(t, 24<<20)
	putBig(t, c, "big.bin", model)
	m := mountBucket(t, srv, bucket, c, bucket, "--posix")
	r := rand.New(rand.NewPCG(1, 2))
	f, err := os.OpenFile(m.path("big.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		off := r.Int64N(int64(len(model)) + 4096)
		p := randomBytes(t, 1+r.IntN(64<<10))
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
		if end := off + int64(len(p)); end > int64(len(model)) {
			model = append(model, make([]byte, end-int64(len(model)))...)
		}
		copy(model[off:], p)
		if i%50 == 49 { // read back through the same descriptor
			got := make([]byte, 4096)
			n, _ := f.ReadAt(got, off)
			if !bytes.Equal(got[:n], model[off:off+int64(n)]) {
				t.Fatalf("read-after-write at %d differs", off)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := m.object("big.bin")
	if !bytes.Equal(got, model) {
		t.Fatalf("object differs from the model (%d vs %d bytes)", len(got), len(model))
	}
}

func TestPosixWritableSharedMmap(t *testing.T) {
	m := posixMount(t, map[string]string{"m.bin": strings.Repeat("a", 10000)})
	f, err := os.OpenFile(m.path("m.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, 10000, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("writable shared mmap: %v", err)
	}
	copy(b[100:], "MAPPED")
	copy(b[9990:], "END")
	if err := msync(b); err != nil {
		t.Fatalf("msync: %v", err)
	}
	syscall.Munmap(b)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := []byte(strings.Repeat("a", 10000))
	copy(want[100:], "MAPPED")
	copy(want[9990:], "END")
	m.wantObject("m.bin", string(want))
}

// Two mounts edit one file: the one that closes second gets EIO, and its
// bytes are in a conflict object; the first one's version stays.
func TestPosixTwoMountsEditingOneFile(t *testing.T) {
	a := posixMount(t, map[string]string{"shared.txt": "base\n"})
	b := a.again()
	fa, err := os.OpenFile(a.path("shared.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fa.WriteString("from a\n")
	b.mustSh("echo 'from b' >> shared.txt")
	if err := fa.Close(); errnoOf(err) != syscall.EIO {
		t.Fatalf("second close: %v, want EIO", err)
	}
	a.wantObject("shared.txt", "base\nfrom b\n")
	conflict := conflictKey(t, a, "shared.txt")
	a.wantObject(conflict, "base\nfrom a\n")
}

func TestPosixS3PutBetweenOpenAndCloseIsAConflict(t *testing.T) {
	m := posixMount(t, map[string]string{"f": "v1"})
	f, err := os.OpenFile(m.path("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("V"), 0)
	m.put("f", "another client")
	if err := f.Close(); errnoOf(err) != syscall.EIO {
		t.Fatalf("close: %v, want EIO", err)
	}
	m.wantObject("f", "another client")
	m.wantObject(conflictKey(t, m, "f"), "V1")
}

func conflictKey(t *testing.T, m *mnt, key string) string {
	t.Helper()
	var found []string
	for _, k := range m.keys() {
		if strings.HasPrefix(k, key+".conflict-") {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		t.Fatalf("conflict objects of %q: %v (keys %v)", key, found, m.keys())
	}
	return found[0]
}

// kill -9 of the mount in the middle of an edit: the object is as it was,
// and no multipart upload is left.
func TestPosixKillMountMidEdit(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	orig := randomBytes(t, 30<<20)
	putBig(t, c, "big.bin", orig)
	m := mountBucket(t, srv, bucket, c, bucket, "--posix")
	f, err := os.OpenFile(m.path("big.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(randomBytes(t, 1<<20), 5<<20)
	f.WriteAt([]byte("appended"), int64(len(orig)))
	for _, pid := range daemonsFor(m.dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	f.Close()
	time.Sleep(200 * time.Millisecond)
	if got, _ := m.object("big.bin"); !bytes.Equal(got, orig) {
		t.Fatal("the object changed after the mount was killed mid-edit")
	}
	ups, err := c.ListMultipartUploads(context.Background(), "big.bin")
	if err != nil || len(ups) != 0 {
		t.Fatalf("multipart uploads left: %v, %v", ups, err)
	}
	if keys := m.keys(); len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
}

func TestPosixMetadataSymlinksAndDirsSeenByAFreshMount(t *testing.T) {
	m := posixMount(t, nil)
	m.mustSh(`mkdir -m 700 empty && echo x > f && chmod 640 f && touch -d '2019-05-06 07:08:09' f && ln -s f l`)
	out := m.again().mustSh(`stat -c '%n %F %a %Y' empty f l && readlink l`)
	want := fmt.Sprintf("empty directory 700 %d\nf regular file 640 %d\nl symbolic link 777 %d\nf\n",
		statMtime(t, m, "empty"), time.Date(2019, 5, 6, 7, 8, 9, 0, time.Local).Unix(), statMtime(t, m, "l"))
	if out != want {
		t.Fatalf("fresh mount shows:\n%s\nwant:\n%s", out, want)
	}
	// s3fs's metadata, written by another tool, is read the same way.
	if _, err := m.s3.Put(context.Background(), objstore.PutInput{Key: "s3fs.sh", Body: []byte("#!"),
		Metadata: map[string]string{"mode": "33261", "uid": "1234", "gid": "5678", "mtime": "1600000000"}}); err != nil {
		t.Fatal(err)
	}
	if out := m.mustSh("stat -c '%a %u %g %Y' s3fs.sh"); out != "755 1234 5678 1600000000\n" {
		t.Fatalf("s3fs object shown as %q", out)
	}
}

func statMtime(t *testing.T, m *mnt, name string) int64 {
	t.Helper()
	st, err := os.Lstat(m.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime().Unix()
}

// The default mount stays as strict as before: no append, no rename.
func TestPosixFeaturesNeedTheFlag(t *testing.T) {
	m := mount(t, map[string]string{"f": "x"}, "--allow-overwrite", "--allow-delete")
	m.shFails("echo y >> f", "Operation not permitted")
	m.shFails("mv f g", "Function not implemented")
	m.shFails("ln -s f l", "Operation not permitted")
	m.wantObject("f", "x")
}

// msync writes a shared mapping's dirty pages back (MS_SYNC), as fsync does for write(2).
func msync(b []byte) error {
	const msSync = 4
	_, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), msSync)
	if errno != 0 {
		return errno
	}
	return nil
}

// kill -9 of the mount while a commit's multipart upload is open: the
// object is unchanged, and the next mount aborts the upload it finds in the
// dead mount's staging journal.
func TestPosixKillMountMidCommitAbortsOnNextMount(t *testing.T) {
	srv, bucket, c := newBucket(t, nil)
	m := mountBucket(t, srv, bucket, c, bucket, "--posix", "--max-threads", "1")
	f, err := os.Create(m.path("out.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(t, 120<<20)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }() // the commit: a multipart upload
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ups, _ := c.ListMultipartUploads(ctx, "out.bin")
		if len(ups) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload seen during the commit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, pid := range daemonsFor(m.dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	<-closed
	if keys := m.keys(); len(keys) != 0 {
		t.Fatalf("objects after the mount was killed mid-commit: %v", keys)
	}
	unmount(t, m.dir)
	mountBucket(t, srv, bucket, c, bucket, "--posix")
	if ups, err := c.ListMultipartUploads(ctx, "out.bin"); err != nil || len(ups) != 0 {
		t.Fatalf("uploads left after the next mount: %v, %v", ups, err)
	}
}
