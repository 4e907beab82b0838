// Command bench measures bucketfs against raw S3 (internal/objstore/s3) and
// against s3fs and rclone mount, all on one local MinIO, and writes the
// tables to docs/BENCHMARKS.md. Run it as root from the repository (make
// bench); it installs what it needs, and cleans up (unmounts, stops MinIO,
// removes its data) at the end, on failure and on Ctrl-C.
//
//	go run ./bench [-repeat 5] [-size 1GiB] [-only seq1,seq4,seq8,seq16,seq4one,rand,write,ttfb,ls,cat,
//	               append,sed,rename,untar,sqlite]
//	               [-tools bucketfs,s3fs,rclone] [-keep] [-out docs/BENCHMARKS.md]
//
// Every repeat of a job through a file system gets a fresh mount, dropped
// kernel caches and a fresh open; tools take turns within each repeat.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/memory"
)

type options struct {
	repeat        int
	size          int64
	only          []string // mount job ids, in run order
	tools         []string
	keep          bool
	out           string
	minio         string
	bucketfsFlags string
	randTime      time.Duration
	rcloneSeq4Def bool
	scale         []int  // -scale: key counts of the scale benchmark (then nothing else runs)
	args          string // the command line, for the report
}

var jobOrder = append([]string{"seq1", "seq4", "seq8", "seq16", "seq4one", "rand", "write", "ttfb", "ls", "cat"}, posixJobs...)

var jobGroups = map[string][]string{
	"all": jobOrder, "read": {"seq1", "seq4", "seq8", "seq16", "seq4one", "rand"}, "meta": {"ttfb", "ls", "cat"},
	"posix": posixJobs,
}

// rawFor names the raw S3 jobs that are the reference of each mount job.
var rawFor = map[string][]string{
	"seq1": {"get8", "get1", "fuse0r"}, "seq4": {"getc4"}, "seq8": {"getc8"}, "seq16": {"getc16"},
	"seq4one": {"get8", "get1"}, "rand": {"rand"},
	"write": {"put", "mpu8", "mpuN", "mpu8c", "mpuNc", "fuse0"}, "ttfb": {"ttfb"}, "ls": {"list"}, "cat": {"small", "lookup"},
	"append": {"append"}, "sed": {"sed"}, "rename": {"rename"}, "untar": {"put1k"}, "sqlite": {"putdb"},
}

// memTargetMiB is the --memory-target bucketfs runs with: the one in its
// extra flags, else its default on this machine.
func memTargetMiB(flags string) float64 {
	f := strings.Fields(flags)
	for i, a := range f {
		v, ok := strings.CutPrefix(a, "--memory-target=")
		if !ok && a == "--memory-target" && i+1 < len(f) {
			v, ok = f[i+1], true
		}
		if n, err := strconv.ParseFloat(v, 64); ok && err == nil {
			return n
		}
	}
	return float64(memory.DefaultTarget() >> 20)
}

func parseFlags() (options, error) {
	var o options
	size := flag.String("size", "1GiB", "size of the big object read and written (e.g. 1GiB, 256MiB)")
	only := flag.String("only", "all", "jobs: "+strings.Join(jobOrder, ",")+" or groups read, meta, posix, all")
	tools := flag.String("tools", "bucketfs,s3fs,rclone", "file systems to measure")
	flag.IntVar(&o.repeat, "repeat", 5, "repeats of each job (the median is reported)")
	flag.BoolVar(&o.keep, "keep", false, "leave MinIO running with the seeded bucket at the end (for profiling)")
	flag.StringVar(&o.out, "out", "docs/BENCHMARKS.md", "markdown report to write (empty: none)")
	flag.StringVar(&o.minio, "minio", "", "MinIO binary (default: what scripts/install-deps.sh installs)")
	flag.StringVar(&o.bucketfsFlags, "bucketfs-flags", "", "extra flags for bucketfs mount (space separated)")
	flag.BoolVar(&o.rcloneSeq4Def, "rclone-seq4-default", false, "mount rclone for seq4one with its default --vfs-read-wait")
	flag.DurationVar(&o.randTime, "rand-time", 30*time.Second, "time limit of each random-read run")
	scale := flag.String("scale", "", "run the scale benchmark instead: find and ls -lR of trees of these many keys "+
		"(e.g. 10000,100000,1000000); it replaces its section of -out")
	flag.Parse()
	for _, v := range strings.Split(*scale, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("-scale: bad key count %q", v)
		}
		o.scale = append(o.scale, n)
	}
	o.args = strings.Join(os.Args[1:], " ")
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, err
	}
	if o.size < 64<<20 || o.size%(1<<20) != 0 {
		return o, fmt.Errorf("-size %s: want a whole number of MiB, at least 64MiB", *size)
	}
	if o.repeat < 1 {
		return o, fmt.Errorf("-repeat %d: want at least 1", o.repeat)
	}
	want := map[string]bool{}
	for _, j := range strings.Split(*only, ",") {
		j = strings.TrimSpace(j)
		switch {
		case jobGroups[j] != nil:
			for _, g := range jobGroups[j] {
				want[g] = true
			}
		case slices.Contains(jobOrder, j):
			want[j] = true
		default:
			return o, fmt.Errorf("-only: unknown job %q (jobs: %s; groups: read, meta, posix, all)", j, strings.Join(jobOrder, ","))
		}
	}
	for _, j := range jobOrder {
		if want[j] {
			o.only = append(o.only, j)
		}
	}
	for _, t := range strings.Split(*tools, ",") {
		if t = strings.TrimSpace(t); t != "bucketfs" && t != "s3fs" && t != "rclone" {
			return o, fmt.Errorf("-tools: unknown tool %q (bucketfs, s3fs, rclone)", t)
		}
		o.tools = append(o.tools, t)
	}
	return o, nil
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n <= 0 {
				break
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("bad size %q (e.g. 1GiB, 256MiB)", s)
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping, cleaning up (again to exit at once)\n", s)
		cancel()
		<-sigs
		os.Exit(130)
	}()
	err = benchmark(ctx, o)
	runCleanups()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func benchmark(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: it mounts FUSE file systems, installs packages and drops the page cache")
	}
	if err := toRepoRoot(); err != nil {
		return err
	}
	started := time.Now()
	minioBin, err := install(ctx, o)
	if err != nil {
		return err
	}
	logf("building bin/bucketfs")
	var buildErr error
	if _, err := run(ctx, cmdSpec{name: "make", args: []string{"build"}, env: os.Environ(), timeout: 15 * time.Minute}); err != nil {
		buildErr = fmt.Errorf("make build failed: %w", err)
		logf("%v: bucketfs will not be measured", buildErr)
	}
	bucketfsBin, _ := filepath.Abs("bin/bucketfs")
	if out, err := sh(ctx, 30*time.Second, "getconf CLK_TCK"); err == nil {
		if v, err := strconv.ParseFloat(out, 64); err == nil && v > 0 {
			clockTick = v
		}
	}
	rep := &report{opts: o, started: started, load0: loadAvg(), mem0: memAvailable()}
	rep.info = machineInfo(ctx, minioBin, bucketfsBin)
	rep.busy = busyProcesses(2 * time.Second)
	logf("background load: %s", rep.busy)

	// Everything lives in one private directory, on tmpfs when it has room:
	// MinIO's data (so the server reads no disk and dropping caches costs it
	// nothing), the write source, credential files and mount points.
	base, onTmpfs := tmpfsDir(3*o.size + shardCount*shardSize(o.size) + 2<<30)
	work, err := os.MkdirTemp(base, "bucketfs-bench-")
	if err != nil {
		return err
	}
	rep.onTmpfs = onTmpfs
	atExit(func() { removeWork(work, o.keep) })
	m, err := startMinIO(ctx, minioBin, filepath.Join(work, "minio"), o.keep)
	if err != nil {
		return err
	}
	if o.keep {
		atExit(func() {
			fmt.Printf("\nMinIO left running (-keep), pid %d, data in %s. Mount the seeded bucket with:\n"+
				"  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s bin/bucketfs mount %s DIR --endpoint-url %s --force-path-style --region %s\n"+
				"Stop it with: kill %d; rm -rf %s\n", m.cmd.Process.Pid, m.dataDir, m.user, m.secret, bucket,
				m.endpoint, region, m.cmd.Process.Pid, work)
		})
	} else {
		atExit(m.stop)
	}
	logf("MinIO on %s, data in %s", m.endpoint, m.dataDir)
	atExit(func() { unmountAll(work) }) // before MinIO stops
	if err := m.createBucket(ctx, bucket); err != nil {
		return err
	}
	c, err := m.client(ctx, bucket, rawConns)
	if err != nil {
		return err
	}
	if len(o.scale) > 0 {
		return scaleRun(ctx, o, m, c, work, bucketfsBin, buildErr, rep)
	}
	data := randomBytes(o.size, 1)
	src := filepath.Join(work, "src.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return err
	}
	needs := func(jobs ...string) bool {
		return slices.ContainsFunc(o.only, func(j string) bool { return slices.Contains(jobs, j) })
	}
	t0 := time.Now()
	var big []byte
	if needs("seq1", "seq4one", "rand", "ttfb") {
		big = data
	}
	var shards int64
	if needs("seq4", "seq8", "seq16") {
		shards = shardSize(o.size)
	}
	if err := seed(ctx, c, big, shards, needs("ls"), needs("cat")); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	logf("seeded in %.1fs", time.Since(t0).Seconds())
	if err := dropCaches(); err != nil {
		rep.dropNote = err.Error() + "; every repeat still uses a fresh mount and fresh opens"
		logf("%s", rep.dropNote)
	}

	randSize := min(512<<20, o.size/2)
	raw := &rawEnv{m: m, bucket: bucket, c: c, size: o.size, data: data, src: src, work: work,
		mpu8Sums: partSums(data, 8<<20), mpuNSums: partSums(data, mpuNPart(o.size)),
		randSize: randSize, randTime: o.randTime}
	menv := &mountEnv{m: m, bucket: bucket, work: work, bucketfsBin: bucketfsBin,
		bucketfsArgs: strings.Fields(o.bucketfsFlags), buildErr: buildErr, rcloneSeq4Default: o.rcloneSeq4Def}
	if err := menv.writeCredentialFiles(); err != nil {
		return err
	}
	tools := menv.tools()
	jenv := &jobEnv{c: c, size: o.size, src: src, randSize: randSize, randTime: o.randTime,
		timeout: max(10*time.Minute, time.Duration(o.size/(2<<20))*time.Second), minioPid: m.cmd.Process.Pid, work: work}
	res := &results{raw: map[string]*cell{}, fs: map[string]map[string]*cell{}, tools: o.tools,
		memTargetMiB: memTargetMiB(o.bucketfsFlags)}
	rep.res, rep.tools, rep.mountJobs = res, tools, mountJobs(jenv)

	done := map[string]bool{}
	for _, jobID := range o.only {
		// The raw references this job is the first to need, and the file
		// systems, take turns within each repeat, so that they meet the
		// server in the same states (MinIO's cost per byte written drifts
		// over a run by 2× and more).
		var rjs []rawJob
		for _, rj := range rawJobs() {
			if slices.Contains(rawFor[jobID], rj.id) && !done[rj.id] {
				done[rj.id] = true
				res.raw[rj.id] = &cell{}
				rjs = append(rjs, rj)
			}
		}
		job := jobByID(rep.mountJobs, jobID)
		res.fs[jobID] = map[string]*cell{}
		for _, t := range o.tools {
			res.fs[jobID][t] = &cell{}
		}
		turns := len(rjs) + len(o.tools)
		for r := range o.repeat {
			for i := range turns {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				k := (i + r) % turns // nobody always goes first
				if err := m.emptyTrash(); err != nil {
					return fmt.Errorf("emptying MinIO's trash: %w", err)
				}
				if k < len(rjs) {
					rj := rjs[k]
					_ = dropCaches()
					settle(time.Now())
					warmServer(ctx, c)
					cpu0 := snapshotCPU(m.cmd.Process.Pid, 0)
					s, err := rj.run(ctx, raw)
					account(&s, cpu0, snapshotCPU(m.cmd.Process.Pid, 0))
					res.raw[rj.id].add(s, err)
					logf("raw %-5s #%d %s", rj.id, r+1, describe(s, err))
					continue
				}
				t := o.tools[k-len(rjs)]
				jenv.tool = t
				s, err := measure(ctx, tools[t], job, jenv, filepath.Join(work, "mnt-"+t), r)
				res.fs[jobID][t].add(s, err)
				logf("%-8s %-5s #%d %s", t, jobID, r+1, describe(s, err))
			}
		}
	}
	rep.load1, rep.busy1, rep.elapsed = loadAvg(), busyProcesses(2*time.Second), time.Since(started)
	rep.mem1 = memAvailable()
	md := withScaleSection(rep.markdown(), scaleSection(o.out))
	fmt.Println()
	fmt.Println(md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return nil
}

func jobByID(jobs []mountJob, id string) mountJob {
	for _, j := range jobs {
		if j.id == id {
			return j
		}
	}
	panic("no job " + id)
}

func describe(s sample, err error) string {
	if err != nil {
		return "ERROR " + shorten(err.Error(), 300)
	}
	out := fmt.Sprintf("%.3fs", s.secs)
	if s.bytes > 1<<20 {
		out += fmt.Sprintf(" %.0f MiB/s", mibps.val(s))
	}
	if s.cpu > 0 {
		out += fmt.Sprintf(" fs-cpu %.2fs", s.cpu)
	}
	out += fmt.Sprintf(" minio-cpu %.2fs other-cpu %.2fs", s.srvCPU, s.otherCPU)
	if s.rss > 0 {
		out += fmt.Sprintf(" rss %.0f MiB", rssMiB.val(s))
	}
	if s.note != "" {
		out += " (" + s.note + ")"
	}
	return out
}

// measure runs one repeat of job through a fresh mount of t: caches
// dropped, then mount, two untimed requests to MinIO (see warmServer), run,
// read the serving process's CPU time and peak RSS, unmount.
func measure(ctx context.Context, t *tool, job mountJob, e *jobEnv, dir string, rep int) (sample, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sample{}, err
	}
	_ = dropCaches()
	dropped := time.Now()
	mt, err := mountFresh(ctx, t, dir, job.id)
	if err != nil {
		return sample{}, err
	}
	defer mt.unmount()
	settle(dropped)
	warmServer(ctx, e.c)
	_, err0 := cpuSeconds(mt.pid)
	rssErr := resetPeakRSS(mt.pid)
	cpu0 := snapshotCPU(e.minioPid, mt.pid)
	s, err := job.run(ctx, e, dir, rep)
	cpu1 := snapshotCPU(e.minioPid, mt.pid)
	_, err1 := cpuSeconds(mt.pid)
	rss, err2 := peakRSS(mt.pid)
	if err == nil && (err0 != nil || err1 != nil || err2 != nil) {
		err = fmt.Errorf("%s process %d gone during the job: %v", t.name, mt.pid, errors.Join(err0, err1, err2))
	}
	account(&s, cpu0, cpu1)
	s.rss = rss
	if rssErr != nil {
		s.note = strings.TrimPrefix(s.note+"; ", "; ") + "peak RSS not reset (" + rssErr.Error() + "): since mount"
	}
	return s, err
}

const bucket = "bench"

// toRepoRoot changes to the bucketfs checkout that holds this command.
func toRepoRoot() error {
	dir, _ := os.Getwd()
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/bucketfs/bucketfs\n") {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("run from the bucketfs repository (go run ./bench, or make bench)")
		}
		dir = parent
	}
}

// install runs scripts/install-deps.sh (fuse3, the pinned MinIO) and installs
// the Debian packages of the peers and fio when missing.
func install(ctx context.Context, o options) (string, error) {
	minioBin := o.minio
	if minioBin == "" {
		logf("installing dependencies: scripts/install-deps.sh")
		r, err := run(ctx, cmdSpec{name: "bash", args: []string{"scripts/install-deps.sh"}, env: os.Environ(), timeout: 30 * time.Minute})
		if err != nil {
			return "", err
		}
		minioBin = lastLine(r.stdout)
	}
	var missing []string
	want := map[string]string{"s3fs": "s3fs", "rclone": "rclone"}
	for _, t := range o.tools {
		if pkg, ok := want[t]; ok {
			if _, err := exec.LookPath(t); err != nil {
				missing = append(missing, pkg)
			}
		}
	}
	if _, err := exec.LookPath("fio"); err != nil && slices.Contains(o.only, "rand") {
		missing = append(missing, "fio")
	}
	if len(missing) > 0 {
		logf("installing %s with apt-get", strings.Join(missing, " "))
		env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if _, err := run(ctx, cmdSpec{name: "apt-get", args: []string{"update", "-qq"}, env: env, timeout: 10 * time.Minute}); err != nil {
			return "", err
		}
		args := append([]string{"install", "-y", "-qq"}, missing...)
		if _, err := run(ctx, cmdSpec{name: "apt-get", args: args, env: env, timeout: 15 * time.Minute}); err != nil {
			return "", err
		}
	}
	return minioBin, nil
}

// removeWork unmounts whatever is still mounted in work and removes it
// (keeping MinIO's data with -keep). Nothing is removed through a mount.
func removeWork(work string, keep bool) {
	unmountAll(work)
	if left := mountsUnder(work, false); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "bench: still mounted, %s not removed: %s\n", work, strings.Join(left, " "))
		return
	}
	if !keep {
		_ = os.RemoveAll(work)
		return
	}
	ents, _ := os.ReadDir(work)
	for _, e := range ents {
		if e.Name() != "minio" {
			_ = os.RemoveAll(filepath.Join(work, e.Name()))
		}
	}
}

func unmountAll(dir string) {
	for _, mp := range mountsUnder(dir, false) {
		(&mounted{dir: mp}).unmount()
	}
}
