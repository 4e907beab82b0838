package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes the machine and the software versions for the report.
func machineInfo(ctx context.Context, minioBin, bucketfsBin string) [][2]string {
	first := func(line string) string {
		out, err := sh(ctx, 30*time.Second, line)
		if err != nil && out == "" {
			return "unknown (" + shorten(err.Error(), 80) + ")"
		}
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[:i]
		}
		return strings.TrimSpace(out)
	}
	osName := "unknown"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	minioVer := first(minioBin + " --version")
	if d := filepath.Base(filepath.Dir(minioBin)); strings.HasPrefix(d, "minio-v") {
		minioVer = "github.com/minio/minio@" + strings.TrimPrefix(d, "minio-") + " (" + minioVer + ")"
	}
	return [][2]string{
		{"nproc", strconv.Itoa(runtime.NumCPU())},
		{"CPU", procField("/proc/cpuinfo", "model name")},
		{"memory", memTotal()},
		{"kernel", strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))},
		{"OS", osName},
		{"Go", first("go version")},
		{"bucketfs", first(bucketfsBin+" --version") + ", tree " + first("git describe --always --dirty")},
		{"MinIO", minioVer},
		{"s3fs", first("s3fs --version 2>&1")},
		{"rclone", first("rclone version")},
		{"fio", first("fio --version")},
		{"fuse3", first("fusermount3 --version 2>&1")},
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// procField is the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	for _, l := range strings.Split(readFile(path), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// memAvailable is MemAvailable of /proc/meminfo, e.g. "21.3 GiB": a run
// that ends with much less than it started with left memory behind.
func memAvailable() string {
	v := strings.Fields(procField("/proc/meminfo", "MemAvailable"))
	if len(v) != 2 || v[1] != "kB" {
		return "unknown"
	}
	kb, err := strconv.ParseFloat(v[0], 64)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", kb/(1<<20))
}

// busyProcesses samples every process's CPU time over d and lists those
// that used more than 5% of one core: load that competes with the run.
func busyProcesses(d time.Duration) string {
	snap := func() map[int]float64 {
		m := map[int]float64{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
				if c, err := cpuSeconds(pid); err == nil {
					m[pid] = c
				}
			}
		}
		return m
	}
	a := snap()
	time.Sleep(d)
	b := snap()
	type busy struct {
		pct  float64
		desc string
	}
	var list []busy
	for pid, c := range b {
		if c0, ok := a[pid]; ok {
			if pct := (c - c0) / d.Seconds() * 100; pct > 5 {
				// The program's name only: other people's arguments may hold secrets.
				name := strings.TrimSpace(readFile(fmt.Sprintf("/proc/%d/comm", pid)))
				list = append(list, busy{pct, fmt.Sprintf("%s (pid %d) %.0f%%", name, pid, pct)})
			}
		}
	}
	if len(list) == 0 {
		return "none above 5% of a core"
	}
	sort.Slice(list, func(i, j int) bool { return list[i].pct > list[j].pct })
	var s []string
	for _, x := range list {
		s = append(s, x.desc)
	}
	return strings.Join(s, "; ")
}

func memTotal() string {
	kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), "kB")), 10, 64)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}
