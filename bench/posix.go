package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// POSIX-mode jobs: what users do once a mount can edit. bucketfs runs them
// with --posix, rclone with --vfs-cache-mode writes (it cannot edit
// otherwise), s3fs as always. Each repeat gets fresh objects, copied on the
// server from masters seeded once (untimed); the raw references do the same
// work with the fewest requests the S3 API allows. "moved" is every byte
// that crossed the loopback interface during the timed command (requests
// and responses, both ways): what the edit cost the network.

var posixJobs = []string{"append", "sed", "rename", "untar", "sqlite"}

// isPosixJob reports whether job runs the mounts in their editing modes.
func isPosixJob(job string) bool {
	for _, j := range posixJobs {
		if j == job {
			return true
		}
	}
	return false
}

const (
	posixDir      = "posix"
	appendSize    = 256 << 20
	appendBytes   = 1 << 10
	untarFiles    = 1000
	untarFileSize = 4 << 10
	sqliteRows    = 1000
)

// posixEnv is what the POSIX jobs share: masters in the bucket and local
// inputs (the archive to extract, the SQL to run, the database it makes).
type posixEnv struct {
	once     sync.Once
	err      error
	work     string
	kib      string // appendBytes to append
	archive  string // untarFiles files of untarFileSize bytes in 10 directories
	files    [][]byte
	sql      string // one transaction of sqliteRows inserts
	database []byte // what that SQL makes, for the raw PUT
}

var posix = &posixEnv{}

func masterKey(name string) string { return posixDir + "/master-" + name }

// prepare seeds the masters and makes the local inputs, once.
func (p *posixEnv) prepare(ctx context.Context, c objstore.Client, work string, size int64) error {
	p.once.Do(func() { p.err = p.build(ctx, c, work, size) })
	return p.err
}

func (p *posixEnv) build(ctx context.Context, c objstore.Client, work string, size int64) error {
	p.work = filepath.Join(work, "posix-inputs")
	if err := os.MkdirAll(filepath.Join(p.work, "tree"), 0o755); err != nil {
		return err
	}
	if err := multipartPut(ctx, c, masterKey("append"), randomBytes(appendSize, 7), 8<<20, 8, nil); err != nil {
		return err
	}
	if err := multipartPut(ctx, c, masterKey("rename"), randomBytes(size, 8), 8<<20, 8, nil); err != nil {
		return err
	}
	var lines bytes.Buffer
	for i := 0; lines.Len() < 4<<10; i++ {
		fmt.Fprintf(&lines, "line %d of a small configuration file\n", i)
	}
	if _, err := c.Put(ctx, objstore.PutInput{Key: masterKey("sed"), Body: lines.Bytes()}); err != nil {
		return err
	}
	p.kib = filepath.Join(p.work, "kib")
	if err := os.WriteFile(p.kib, randomBytes(appendBytes, 9), 0o644); err != nil {
		return err
	}
	for i := range untarFiles {
		b := randomBytes(untarFileSize, uint64(1000+i))
		p.files = append(p.files, b)
		dir := filepath.Join(p.work, "tree", fmt.Sprintf("d%d", i%10))
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), b, 0o640); err != nil {
			return err
		}
	}
	p.archive = filepath.Join(p.work, "tree.tar")
	if out, err := exec.CommandContext(ctx, "tar", "cf", p.archive, "-C", filepath.Join(p.work, "tree"), ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar cf: %v: %s", err, out)
	}
	var sql strings.Builder
	sql.WriteString("create table t(i integer primary key, v text);\nbegin;\n")
	for i := range sqliteRows {
		fmt.Fprintf(&sql, "insert into t(v) values('row %d of the transaction');\n", i)
	}
	sql.WriteString("commit;\n")
	p.sql = filepath.Join(p.work, "insert.sql")
	if err := os.WriteFile(p.sql, []byte(sql.String()), 0o644); err != nil {
		return err
	}
	db := filepath.Join(p.work, "local.sqlite")
	cmd := exec.CommandContext(ctx, "sqlite3", db)
	cmd.Stdin = strings.NewReader(sql.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sqlite3: %v: %s", err, out)
	}
	var err error
	p.database, err = os.ReadFile(db)
	return err
}

// fresh copies a master to key on the server, for one repeat.
func fresh(ctx context.Context, c objstore.Client, master, key string) error {
	info, err := c.Head(ctx, master)
	if err != nil {
		return err
	}
	if info.Size <= objstore.MaxCopyObjectSize {
		_, err = c.CopyObject(ctx, objstore.CopyInput{Key: key, SrcKey: master})
		return err
	}
	return fmt.Errorf("master %s too large to copy", master)
}

// loopback reads the bytes received on lo: every byte between the mount
// and MinIO crosses it once.
func loopback() int64 {
	b, err := os.ReadFile("/sys/class/net/lo/statistics/rx_bytes")
	if err != nil {
		return -1
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// timedShell runs script (in MNT) and measures it: time and bytes moved
// (settled adds what moves after it, until the bucket has the change).
func timedShell(ctx context.Context, e *jobEnv, dir, script string) (sample, error) {
	lo0 := loopback()
	r, err := run(ctx, cmdSpec{name: "sh", args: []string{"-c", script}, dir: dir, timeout: e.timeout})
	s := sample{secs: r.elapsed.Seconds(), ops: 1, moved: -lo0}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", script, err, lastLine(r.stderr))
	}
	return s, nil
}

func posixMountJobs(e *jobEnv) []mountJob {
	key := func(name string, rep int, tool string) string {
		return fmt.Sprintf("%s/%s-%s-%d", posixDir, name, tool, rep)
	}
	return []mountJob{
		{"append", "append 1 KiB to a 256 MiB object", "cat 1KiB >> MNT/posix/OBJ (--posix; rclone --vfs-cache-mode writes)",
			func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				k := key("append", rep, e.tool)
				if err := fresh(ctx, e.c, masterKey("append"), k); err != nil {
					return sample{}, err
				}
				defer e.c.Delete(context.WithoutCancel(ctx), k)
				s, err := timedShell(ctx, e, mnt, "cat "+posix.kib+" >> "+k)
				return settled(ctx, s, err, func() error { return wantSize(ctx, e.c, k, appendSize+appendBytes) })
			}},
		{"sed", "sed -i on a 4 KiB file", "sed -i s/line/LINE/ MNT/posix/OBJ",
			func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				k := key("sed", rep, e.tool)
				if err := fresh(ctx, e.c, masterKey("sed"), k); err != nil {
					return sample{}, err
				}
				defer e.c.Delete(context.WithoutCancel(ctx), k)
				s, err := timedShell(ctx, e, mnt, "sed -i s/line/LINE/ "+k)
				return settled(ctx, s, err, func() error { return wantContains(ctx, e.c, k, "LINE 0 of") })
			}},
		{"rename", "rename of a " + human(e.size) + " file (server-side)", "mv MNT/posix/A MNT/posix/B (an object of -size)",
			func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				a, b := key("ren-a", rep, e.tool), key("ren-b", rep, e.tool)
				if err := fresh(ctx, e.c, masterKey("rename"), a); err != nil {
					return sample{}, err
				}
				defer e.c.Delete(context.WithoutCancel(ctx), a)
				defer e.c.Delete(context.WithoutCancel(ctx), b)
				s, err := timedShell(ctx, e, mnt, "mv "+a+" "+b)
				return settled(ctx, s, err, func() error {
					if _, herr := e.c.Head(ctx, a); herr == nil {
						return fmt.Errorf("%s still exists after mv", a)
					}
					return wantSize(ctx, e.c, b, e.size)
				})
			}},
		{"untar", "untar of 1,000 × 4 KiB files", "tar xf tree.tar -C MNT/posix/DIR (10 directories, modes, mtimes)",
			func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				d := key("untar", rep, e.tool)
				defer deletePrefix(context.WithoutCancel(ctx), e.c, d+"/")
				s, err := timedShell(ctx, e, mnt, "mkdir "+d+" && tar xf "+posix.archive+" -C "+d)
				return settled(ctx, s, err, func() error { return wantFiles(ctx, e.c, d+"/", untarFiles) })
			}},
		{"sqlite", "sqlite: a 1,000-insert transaction", "sqlite3 MNT/posix/DB < insert.sql (create table, begin, 1,000 inserts, commit)",
			func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				k := key("db", rep, e.tool) + ".sqlite"
				defer deletePrefix(context.WithoutCancel(ctx), e.c, k)
				s, err := timedShell(ctx, e, mnt, "sqlite3 "+k+" < "+posix.sql)
				return settled(ctx, s, err, func() error { return wantSize(ctx, e.c, k, int64(len(posix.database))) })
			}},
	}
}

// The raw references: the same change with the fewest S3 requests.
func posixRawJobs() []rawJob {
	return []rawJob{
		{"append", "UploadPartCopy of the 256 MiB + UploadPart of 1 KiB + conditional Complete",
			func(ctx context.Context, e *rawEnv) (sample, error) {
				if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
					return sample{}, err
				}
				k := posixDir + "/raw-append"
				if err := fresh(ctx, e.c, masterKey("append"), k); err != nil {
					return sample{}, err
				}
				defer e.c.Delete(context.WithoutCancel(ctx), k)
				info, err := e.c.Head(ctx, k)
				if err != nil {
					return sample{}, err
				}
				kib, _ := os.ReadFile(posix.kib)
				lo0, start := loopback(), time.Now()
				err = rawAppend(ctx, e.c, k, info, kib)
				s := sample{secs: time.Since(start).Seconds(), ops: 1, moved: loopback() - lo0}
				if err == nil {
					err = wantSize(ctx, e.c, k, appendSize+appendBytes)
				}
				return s, err
			}},
		{"sed", "GET + conditional PUT of the 4 KiB", func(ctx context.Context, e *rawEnv) (sample, error) {
			if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
				return sample{}, err
			}
			k := posixDir + "/raw-sed"
			if err := fresh(ctx, e.c, masterKey("sed"), k); err != nil {
				return sample{}, err
			}
			defer e.c.Delete(context.WithoutCancel(ctx), k)
			lo0, start := loopback(), time.Now()
			out, err := e.c.Get(ctx, objstore.GetInput{Key: k, Length: -1})
			if err == nil {
				var b bytes.Buffer
				_, err = b.ReadFrom(out.Body)
				out.Body.Close()
				if err == nil {
					body := bytes.ReplaceAll(b.Bytes(), []byte("line"), []byte("LINE"))
					_, err = e.c.Put(ctx, objstore.PutInput{Key: k, Body: body, IfMatch: out.Info.ETag})
				}
			}
			return sample{secs: time.Since(start).Seconds(), ops: 1, moved: loopback() - lo0}, err
		}},
		{"rename", "CopyObject + DeleteObject", func(ctx context.Context, e *rawEnv) (sample, error) {
			if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
				return sample{}, err
			}
			a, b := posixDir+"/raw-ren-a", posixDir+"/raw-ren-b"
			if err := fresh(ctx, e.c, masterKey("rename"), a); err != nil {
				return sample{}, err
			}
			defer e.c.Delete(context.WithoutCancel(ctx), b)
			lo0, start := loopback(), time.Now()
			_, err := e.c.CopyObject(ctx, objstore.CopyInput{Key: b, SrcKey: a})
			if err == nil {
				err = e.c.Delete(ctx, a)
			}
			return sample{secs: time.Since(start).Seconds(), ops: 1, moved: loopback() - lo0}, err
		}},
		{"put1k", "1,000 PUTs of 4 KiB, one after another", func(ctx context.Context, e *rawEnv) (sample, error) {
			if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
				return sample{}, err
			}
			prefix := posixDir + "/raw-untar/"
			defer deletePrefix(context.WithoutCancel(ctx), e.c, prefix)
			lo0, start := loopback(), time.Now()
			for i, b := range posix.files {
				if _, err := e.c.Put(ctx, objstore.PutInput{Key: fmt.Sprintf("%sd%d/f%04d", prefix, i%10, i), Body: b}); err != nil {
					return sample{}, err
				}
			}
			return sample{secs: time.Since(start).Seconds(), ops: untarFiles, moved: loopback() - lo0}, nil
		}},
		{"putdb", "PUT of the database the transaction makes", func(ctx context.Context, e *rawEnv) (sample, error) {
			if err := posix.prepare(ctx, e.c, e.work, e.size); err != nil {
				return sample{}, err
			}
			k := posixDir + "/raw-db.sqlite"
			defer e.c.Delete(context.WithoutCancel(ctx), k)
			lo0, start := loopback(), time.Now()
			_, err := e.c.Put(ctx, objstore.PutInput{Key: k, Body: posix.database, IfNoneMatch: true})
			return sample{secs: time.Since(start).Seconds(), ops: 1, moved: loopback() - lo0}, err
		}},
	}
}

// rawAppend appends data to key (info: its current version) on the server.
func rawAppend(ctx context.Context, c objstore.Client, key string, info objstore.ObjectInfo, data []byte) error {
	id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: key, CopyParts: true})
	if err != nil {
		return err
	}
	p1, err := c.UploadPartCopy(ctx, objstore.PartCopyInput{Key: key, UploadID: id, Number: 1, SrcKey: key,
		SrcIfMatch: info.ETag, Offset: 0, Length: info.Size})
	var p2 objstore.Part
	if err == nil {
		p2, err = c.UploadPart(ctx, objstore.PartInput{Key: key, UploadID: id, Number: 2, Body: data})
	}
	if err == nil {
		_, err = c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: key, UploadID: id,
			Parts: []objstore.Part{p1, p2}, IfMatch: info.ETag})
	}
	if err != nil {
		_ = c.AbortMultipartUpload(context.WithoutCancel(ctx), key, id)
	}
	return err
}

// settled waits, after a command succeeded, until check holds in the
// bucket: a peer that uploads after close (rclone's write-back) has the
// wait counted, and noted, as for the write job.
func settled(ctx context.Context, s sample, err error, check func() error) (sample, error) {
	if err != nil {
		return s, err
	}
	closed := time.Now()
	for {
		if err = check(); err == nil {
			s.moved += loopback() // timedShell left -(the count at the start)
			break
		}
		if time.Since(closed) > 30*time.Second || ctx.Err() != nil {
			return s, fmt.Errorf("not in the bucket 30 s after the command: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if late := time.Since(closed); late > 50*time.Millisecond {
		s.secs += late.Seconds()
		s.note = fmt.Sprintf("in the bucket %.2fs after the command (counted)", late.Seconds())
	}
	return s, nil
}

func wantSize(ctx context.Context, c objstore.Client, key string, size int64) error {
	info, err := c.Head(ctx, key)
	if err != nil {
		return fmt.Errorf("after the job: %w", err)
	}
	if info.Size != size {
		return fmt.Errorf("after the job %s has %d bytes, want %d", key, info.Size, size)
	}
	return nil
}

func wantContains(ctx context.Context, c objstore.Client, key, want string) error {
	out, err := c.Get(ctx, objstore.GetInput{Key: key, Length: -1})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		return err
	}
	if !strings.Contains(b.String(), want) {
		return fmt.Errorf("after the job %s does not contain %q", key, want)
	}
	return nil
}

// wantFiles checks that prefix holds n non-empty objects (markers aside).
func wantFiles(ctx context.Context, c objstore.Client, prefix string, n int) error {
	got := 0
	err := listAll(ctx, c, prefix, func(o objstore.ObjectInfo) {
		if o.Size == untarFileSize {
			got++
		}
	})
	if err == nil && got != n {
		err = fmt.Errorf("after the job %s holds %d files of %d bytes, want %d", prefix, got, untarFileSize, n)
	}
	return err
}

func listAll(ctx context.Context, c objstore.Client, prefix string, fn func(objstore.ObjectInfo)) error {
	token := ""
	for {
		out, err := c.List(ctx, objstore.ListInput{Prefix: prefix, ContinuationToken: token})
		if err != nil {
			return err
		}
		for _, o := range out.Objects {
			fn(o)
		}
		if out.NextContinuationToken == "" {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// deletePrefix deletes every key under prefix (and prefix itself).
func deletePrefix(ctx context.Context, c objstore.Client, prefix string) {
	var keys []string
	_ = listAll(ctx, c, prefix, func(o objstore.ObjectInfo) { keys = append(keys, o.Key) })
	_ = parallel(ctx, len(keys), 16, func(ctx context.Context, i int) error { return c.Delete(ctx, keys[i]) })
}

// posixRows are the POSIX-mode rows of the comparison table: time, and for
// the edits what they moved over the network.
func posixRows() []row {
	return []row{
		{"append 1 KiB to a 256 MiB object", "append", seconds, bestRaw(seconds, "append"), nil},
		{"append 1 KiB to a 256 MiB object", "append", movedMB, bestRaw(movedMB, "append"), nil},
		{"sed -i on a 4 KiB file", "sed", seconds, bestRaw(seconds, "sed"), nil},
		{"rename of the big object (server-side)", "rename", seconds, bestRaw(seconds, "rename"), nil},
		{"rename of the big object (server-side)", "rename", movedMB, bestRaw(movedMB, "rename"), nil},
		{"untar of 1,000 × 4 KiB files", "untar", seconds, bestRaw(seconds, "put1k"), nil},
		{"sqlite 1,000-insert transaction", "sqlite", seconds, bestRaw(seconds, "putdb"), nil},
	}
}
