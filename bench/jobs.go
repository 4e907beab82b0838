package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// sample is one measurement. Throughput is bytes/secs, IOPS ops/secs. cpu
// and rss describe the file system's serving process during the job.
type sample struct {
	secs  float64
	bytes int64
	ops   int64
	cpu   float64 // CPU seconds (utime+stime) of the file system's process
	rss   int64   // peak RSS (VmHWM) of the file system's process during the job
	moved int64   // bytes across the loopback interface during the timed part (POSIX jobs)
	note  string
	// CPU seconds of MinIO, of the harness with its commands (dd, fio, the
	// raw SDK client), and of every other process on the machine.
	srvCPU, clientCPU, otherCPU float64
}

// mountJob is one measurement through a mounted file system. Every repeat
// gets a new mount, dropped caches, and new opens.
type mountJob struct {
	id, name string
	cmd      string // the command, for the report (MNT = mount point)
	run      func(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error)
}

// jobEnv is shared by the mount jobs.
type jobEnv struct {
	c        objstore.Client // raw client, to check and delete written objects
	size     int64
	src      string // write source file on tmpfs, size bytes
	randSize int64
	randTime time.Duration
	timeout  time.Duration // bound of each big command
	tool     string
	minioPid int
	work     string // private directory, for local inputs
}

func mountJobs(e *jobEnv) []mountJob {
	big := func(mnt string) string { return filepath.Join(mnt, bigKey) }
	return append([]mountJob{
		{"seq1", "sequential read, 1 reader", "dd if=MNT/big.bin of=/dev/null bs=1M",
			func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
				return ddReaders(ctx, e, []string{big(mnt)}, e.size)
			}},
		shardJob(4), shardJob(8), shardJob(16),
		{"seq4one", "sequential read, 4 concurrent readers of one object (aggregate)",
			"4 × dd if=MNT/big.bin of=/dev/null bs=1M, started together",
			func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
				return ddReaders(ctx, e, slices.Repeat([]string{big(mnt)}, 4), e.size)
			}},
		{"rand", "random 256 KiB reads", fmt.Sprintf("fio --rw=randread --bs=256k --ioengine=psync --direct=0 "+
			"--io_size=%s --runtime=%s (fresh open, fixed seed)", human(e.randSize), e.randTime),
			fioRandom},
		{"write", "sequential write through close", "dd if=SRC of=MNT/NEW bs=1M (SRC on tmpfs; whole command timed)",
			ddWrite},
		{"ttfb", "time to first byte, fresh mount", "head -c 1 MNT/big.bin",
			func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
				return countedCmd(ctx, e, "head", []string{"-c", "1", big(mnt)}, 1, -1)
			}},
		{"ls", "ls -f of a 10,000-entry directory", "ls -f MNT/many",
			func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
				return countedCmd(ctx, e, "ls", []string{"-f", filepath.Join(mnt, manyDir)}, -1, manyCount+2)
			}},
		{"cat", "cat of 1,000 × 4 KiB files", "sh -c 'cat MNT/small/*'",
			func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
				return countedCmd(ctx, e, "sh", []string{"-c", "cat " + filepath.Join(mnt, smallDir) + "/*"},
					smallCount*smallSize, -1)
			}},
	}, posixMountJobs(e)...)
}

var ddBytes = regexp.MustCompile(`(?m)^(\d+) bytes`)

// ddCopied is the byte count dd reports on stderr.
func ddCopied(stderr string) int64 {
	m := ddBytes.FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}

// shardJob is seqN: n readers at once, each of its own object (shards/),
// the pattern of a data loader's workers or of many tasks on one node.
func shardJob(n int) mountJob {
	return mountJob{fmt.Sprintf("seq%d", n), fmt.Sprintf("sequential read, %d readers of %d objects (aggregate)", n, n),
		fmt.Sprintf("%d × dd if=MNT/%s/sNN.bin of=/dev/null bs=1M, one object each, started together", n, shardDir),
		func(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
			paths := make([]string, n)
			for i := range paths {
				paths[i] = filepath.Join(mnt, shardKey(i))
			}
			return ddReaders(ctx, e, paths, shardSize(e.size))
		}}
}

// ddReaders starts a dd reader of each path at once, each of which must
// read size bytes; the sample is the wall time until the last one exits and
// the bytes all of them read.
func ddReaders(ctx context.Context, e *jobEnv, paths []string, size int64) (sample, error) {
	n := len(paths)
	var wg sync.WaitGroup
	errs := make([]error, n)
	got := make([]int64, n)
	start := time.Now()
	for i, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := run(ctx, cmdSpec{name: "dd", args: []string{"if=" + path, "of=/dev/null", "bs=1M"}, timeout: e.timeout})
			got[i], errs[i] = ddCopied(r.stderr), err
		}()
	}
	wg.Wait()
	s := sample{secs: time.Since(start).Seconds()}
	for i := range n {
		if errs[i] != nil {
			return s, errs[i]
		}
		if got[i] != size {
			return s, fmt.Errorf("reader %d read %d bytes, want %d", i, got[i], size)
		}
		s.bytes += got[i]
	}
	return s, nil
}

// ddWrite copies the source into a new file of the mount; the time covers the
// whole dd command, whose close completes the upload. The object is then
// checked and deleted through S3, untimed.
func ddWrite(ctx context.Context, e *jobEnv, mnt string, rep int) (sample, error) {
	name := fmt.Sprintf("written-%s-%d-%s.bin", e.tool, rep, randomHex(3))
	r, err := run(ctx, cmdSpec{name: "dd", args: []string{"if=" + e.src, "of=" + filepath.Join(mnt, name), "bs=1M"},
		timeout: e.timeout})
	s := sample{secs: r.elapsed.Seconds(), bytes: ddCopied(r.stderr), ops: 1}
	defer func() { _ = e.c.Delete(context.WithoutCancel(ctx), name) }()
	if err != nil {
		return s, err
	}
	if s.bytes != e.size {
		return s, fmt.Errorf("dd wrote %d bytes, want %d", s.bytes, e.size)
	}
	// The object must exist, whole, when close returns; if a peer finishes
	// the upload later, the wait until it is visible is counted and noted.
	closed := time.Now()
	for {
		info, err := e.c.Head(ctx, name)
		if err == nil && info.Size == e.size {
			break
		}
		if time.Since(closed) > 2*time.Minute || ctx.Err() != nil {
			return s, fmt.Errorf("object not complete 2 min after close (last HEAD: size %d, %v)", info.Size, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if late := time.Since(closed); late > 50*time.Millisecond {
		s.secs += late.Seconds()
		s.note = fmt.Sprintf("object visible %.2fs after close (counted)", late.Seconds())
	}
	return s, nil
}

// countedCmd runs a command whose stdout must be wantBytes bytes or
// wantLines lines long (-1: not checked) and times it.
func countedCmd(ctx context.Context, e *jobEnv, name string, args []string, wantBytes, wantLines int64) (sample, error) {
	var out counter
	r, err := run(ctx, cmdSpec{name: name, args: args, stdout: &out, timeout: e.timeout})
	s := sample{secs: r.elapsed.Seconds(), bytes: out.bytes, ops: out.lines}
	if err != nil {
		return s, err
	}
	if wantBytes >= 0 && out.bytes != wantBytes {
		return s, fmt.Errorf("%s printed %d bytes, want %d", name, out.bytes, wantBytes)
	}
	if wantLines >= 0 && out.lines != wantLines {
		return s, fmt.Errorf("%s printed %d lines, want %d", name, out.lines, wantLines)
	}
	return s, nil
}

// fioRandom runs fio randread on the big file. fio's fadvise hint (RANDOM)
// turns off kernel readahead; the fixed seed reads the same offsets on every
// file system, each block at most once (random map), so no page is reused.
func fioRandom(ctx context.Context, e *jobEnv, mnt string, _ int) (sample, error) {
	args := []string{"--name=randread", "--filename=" + filepath.Join(mnt, bigKey), "--readonly",
		"--rw=randread", "--bs=256k", "--ioengine=psync", "--direct=0", "--randrepeat=1",
		"--io_size=" + strconv.FormatInt(e.randSize, 10), "--runtime=" + strconv.Itoa(int(e.randTime.Seconds())),
		"--output-format=json"}
	r, err := run(ctx, cmdSpec{name: "fio", args: args, timeout: e.randTime + 2*time.Minute})
	if err != nil {
		return sample{}, err
	}
	var out struct {
		Jobs []struct {
			Error int `json:"error"`
			Read  struct {
				IOBytes  int64 `json:"io_bytes"`
				TotalIOs int64 `json:"total_ios"`
				Runtime  int64 `json:"runtime"` // ms
			} `json:"read"`
		} `json:"jobs"`
	}
	js := r.stdout
	if i := strings.IndexByte(js, '{'); i > 0 { // fio may print warnings first
		js = js[i:]
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil || len(out.Jobs) != 1 {
		return sample{}, fmt.Errorf("fio output: %v: %s", err, lastLine(r.stdout+r.stderr))
	}
	j := out.Jobs[0]
	if j.Error != 0 || j.Read.Runtime <= 0 || j.Read.IOBytes == 0 {
		return sample{}, fmt.Errorf("fio failed (error %d): %s", j.Error, lastLine(r.stderr))
	}
	return sample{secs: float64(j.Read.Runtime) / 1000, bytes: j.Read.IOBytes, ops: j.Read.TotalIOs}, nil
}
