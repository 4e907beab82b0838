package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/mount"
	"github.com/bucketfs/bucketfs/internal/mountinfo"
)

// tool is one file system under test, mounted fresh for every measurement.
type tool struct {
	name     string
	bin      string   // argv[0] base name of its serving process
	settings []string // the exact command, for the report (secrets elided)
	note     string   // per-job settings, for the report
	mount    func(ctx context.Context, dir, job string) (*exec.Cmd, error)
}

// mountEnv holds what every tool needs to reach the bucket.
type mountEnv struct {
	m            *minio
	bucket       string
	work         string // private temporary directory (credential files)
	bucketfsBin  string
	bucketfsArgs []string // extra flags from -bucketfs-flags
	buildErr     error    // make build failed: bucketfs cannot be measured

	rcloneSeq4Default bool // no --vfs-read-wait 0ms for seq4one
}

func (e *mountEnv) tools() map[string]*tool {
	cred := []string{"AWS_ACCESS_KEY_ID=" + e.m.user, "AWS_SECRET_ACCESS_KEY=" + e.m.secret}
	bfsArgs := append([]string{"--endpoint-url", e.m.endpoint, "--force-path-style", "--region", region}, e.bucketfsArgs...)
	s3fsOpts := "url=" + e.m.endpoint + ",use_path_request_style,passwd_file=" + filepath.Join(e.work, "s3fs.passwd") +
		",parallel_count=8,multipart_size=8"
	rcloneArgs := []string{"--vfs-cache-mode", "off", "--dir-cache-time", "1s", "--attr-timeout", "1s",
		"--buffer-size", "64M", "--s3-chunk-size", "8M", "--s3-upload-concurrency", "8", "--use-server-modtime"}
	rcloneConf := filepath.Join(e.work, "rclone.conf")
	tools := map[string]*tool{
		"bucketfs": {
			name: "bucketfs", bin: "bucketfs",
			settings: append([]string{"bin/bucketfs", "mount", e.bucket, "DIR"}, bfsArgs...),
			note:     "for the POSIX-mode jobs (" + strings.Join(posixJobs, ", ") + ") also `--posix`",
			mount: func(ctx context.Context, dir, job string) (*exec.Cmd, error) {
				if e.buildErr != nil {
					return nil, e.buildErr
				}
				args := append([]string{"mount", e.bucket, dir}, bfsArgs...)
				if isPosixJob(job) {
					args = append(args, "--posix")
				}
				_, err := run(ctx, cmdSpec{name: e.bucketfsBin, args: args, env: childEnv(cred...), timeout: time.Minute})
				return nil, err
			},
		},
		"s3fs": {
			name: "s3fs", bin: "s3fs",
			settings: []string{"s3fs", e.bucket, "DIR", "-o", s3fsOpts},
			mount: func(ctx context.Context, dir, job string) (*exec.Cmd, error) {
				// s3fs forks into the background and exits 0 even when the mount then fails.
				_, err := run(ctx, cmdSpec{name: "s3fs", args: []string{e.bucket, dir, "-o", s3fsOpts}, timeout: time.Minute})
				return nil, err
			},
		},
		"rclone": {
			name: "rclone", bin: "rclone",
			settings: append([]string{"rclone", "--config", "rclone.conf", "mount", "minio:" + e.bucket, "DIR"}, rcloneArgs...),
			note: "for seq4one also `--vfs-read-wait 0ms`: with the default 20 ms, rclone's four readers of one file " +
				"wait on each other's out-of-order reads and crawl (try `-only seq4one -tools rclone -rclone-seq4-default`); " +
				"zero costs its single reader a little, so it is used for seq4one only. For the POSIX-mode jobs " +
				"`--vfs-cache-mode writes` instead of `off`: rclone cannot edit files without it (it uploads 5 s after " +
				"close, its default --vfs-write-back; with 0s its sed -i fails, the renamed temporary file being still " +
				"uploaded; the wait until the bucket has the change is counted)",
			mount: func(ctx context.Context, dir, job string) (*exec.Cmd, error) {
				// In the foreground, as its own process group: we own it.
				args := append([]string{"--config", rcloneConf, "mount", "minio:" + e.bucket, dir}, rcloneArgs...)
				if isPosixJob(job) {
					args[slices.Index(args, "off")] = "writes" // --vfs-cache-mode
					args = append(args, "--cache-dir", filepath.Join(e.work, "rclone-cache"))
				}
				if job == "seq4one" && !e.rcloneSeq4Default {
					args = append(args, "--vfs-read-wait", "0ms")
				}
				cmd := command(context.WithoutCancel(ctx), cmdSpec{name: "rclone", args: args})
				logs := &tailBuffer{max: 8 << 10}
				cmd.Stdout, cmd.Stderr = logs, logs
				if err := cmd.Start(); err != nil {
					return nil, err
				}
				go func() { _ = cmd.Wait() }()
				return cmd, nil
			},
		},
	}
	if e.rcloneSeq4Default {
		tools["rclone"].note = ""
	}
	// The report shows no port and no temporary paths.
	for _, t := range tools {
		for i, a := range t.settings {
			a = strings.ReplaceAll(a, e.m.endpoint, "http://127.0.0.1:PORT")
			t.settings[i] = strings.ReplaceAll(a, e.work+"/", "")
		}
	}
	return tools
}

// writeCredentialFiles writes s3fs's passwd file and rclone's config, mode 0600.
func (e *mountEnv) writeCredentialFiles() error {
	conf := fmt.Sprintf("[minio]\ntype = s3\nprovider = Minio\nenv_auth = false\naccess_key_id = %s\n"+
		"secret_access_key = %s\nregion = %s\nendpoint = %s\n", e.m.user, e.m.secret, region, e.m.endpoint)
	if err := os.WriteFile(filepath.Join(e.work, "rclone.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.work, "s3fs.passwd"), []byte(e.m.user+":"+e.m.secret+"\n"), 0o600)
}

// mounted is a live mount and the process serving it.
type mounted struct {
	t   *tool
	dir string
	pid int
	cmd *exec.Cmd // when we started the server in the foreground
}

// mountFresh mounts t on dir and waits until the mount is live and its
// serving process is known.
func mountFresh(ctx context.Context, t *tool, dir, job string) (*mounted, error) {
	if isMounted(dir) {
		return nil, fmt.Errorf("%s is still mounted", dir)
	}
	cmd, err := t.mount(ctx, dir, job)
	mt := &mounted{t: t, dir: dir, cmd: cmd}
	if err != nil {
		return nil, fmt.Errorf("mount: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(dir) || mt.pid == 0 {
		if mt.pid == 0 && isMounted(dir) {
			mt.pid = findServer(t.bin, dir)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			mt.unmount()
			if isMounted(dir) {
				return nil, fmt.Errorf("mounted but no %s process found for %s", t.bin, dir)
			}
			why := ""
			if cmd != nil {
				if logs, ok := cmd.Stderr.(*tailBuffer); ok {
					why = ": " + lastLine(logs.String())
				}
			}
			return nil, fmt.Errorf("%s did not mount %s within 30s%s", t.name, dir, why)
		}
		if mt.pid == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return mt, nil
}

// unmount unmounts and waits for the serving process to exit (killing it
// after 20 s).
func (mt *mounted) unmount() {
	if isMounted(mt.dir) && mount.Unmount(mt.dir, false) != nil {
		_ = mount.Unmount(mt.dir, true)
	}
	pid := mt.pid
	if pid == 0 && mt.cmd != nil && mt.cmd.Process != nil {
		pid = mt.cmd.Process.Pid
	}
	if pid == 0 {
		return
	}
	for deadline := time.Now().Add(20 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(100 * time.Millisecond)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited; its parent has not reaped it yet.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// isMounted reports whether dir is a mount point (in the mount table).
func isMounted(dir string) bool {
	return len(mountsUnder(dir, true)) > 0
}

// mountsUnder lists mount points equal to (exact) or under dir.
func mountsUnder(dir string, exact bool) []string {
	entries, err := mountinfo.Read()
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.MountPoint == dir || (!exact && strings.HasPrefix(e.MountPoint, dir+"/")) {
			out = append(out, e.MountPoint)
		}
	}
	return out
}

// findServer finds the process serving dir: argv[0]'s base name is bin and
// one argument is dir. When there are several (a launcher still exiting),
// bucketfs's marked background child wins, then the newest.
func findServer(bin, dir string) int {
	ents, _ := os.ReadDir("/proc")
	best := 0
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() || !alive(pid) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(args[0]) != bin {
			continue
		}
		hasDir := false
		for _, a := range args[1:] {
			if a == dir {
				hasDir = true
			}
		}
		if !hasDir {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		marker := []byte(mount.ChildEnv + "=1\x00")
		if bytes.Contains(env, append([]byte("\x00"), marker...)) || bytes.HasPrefix(env, marker) {
			return pid
		}
		if pid > best {
			best = pid
		}
	}
	return best
}

var clockTick = 100.0 // sysconf(_SC_CLK_TCK); set from getconf at start

// cpuSeconds is utime+stime of pid so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/pid/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command: state is field 3, utime 14 and stime 15 (1-based).
	if len(f) < 13 {
		return 0, errors.New("short /proc/pid/stat")
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (u + s) / clockTick, nil
}

// resetPeakRSS clears VmHWM (clear_refs 5, Linux ≥ 4.0) so that the next
// reading is the peak of the job alone.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSS is VmHWM of pid, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/pid/status")
}
