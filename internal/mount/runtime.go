package mount

import (
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// tuneRuntime keeps the process within its memory target: buffers come
// from memory.BufferBudget of it, and a soft memory limit makes the garbage
// collector return what pools and garbage hold before the heap grows past
// the target less what the program itself occupies outside the Go heap.
// target is the core's resolved target (fs.New has applied the default).
func tuneRuntime(target int64, logger *slog.Logger) {
	limit := target - nonHeap
	debug.SetMemoryLimit(limit)
	logger.Debug("memory target", "target_bytes", target, "go_memory_limit_bytes", limit)
}

// nonHeap is the resident memory of the program outside Go's accounting:
// its code and static data (about 20 MiB), plus a margin, since the Go
// limit is soft and RSS lags what the collector frees.
const nonHeap = 32 << 20

// ProfileEnv names a file to write a CPU profile of the mount to, from
// mount until unmount (a development aid: `go tool pprof bucketfs FILE`).
const ProfileEnv = "BUCKETFS_CPUPROFILE"

// HeapProfileEnv names a file to write a heap profile to at unmount
// (allocations since mount: `go tool pprof -sample_index=alloc_space`).
const HeapProfileEnv = "BUCKETFS_HEAPPROFILE"

// startProfile starts CPU profiling when ProfileEnv is set and returns the
// function that stops it (and writes the heap profile HeapProfileEnv asks for).
func startProfile(logger *slog.Logger) func() {
	heap := func() {
		path := os.Getenv(HeapProfileEnv)
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err != nil {
			logger.Warn("cannot write heap profile", "path", path, "error", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			logger.Warn("cannot write heap profile", "error", err)
		}
	}
	path := os.Getenv(ProfileEnv)
	if path == "" {
		return heap
	}
	f, err := os.Create(path)
	if err != nil {
		logger.Warn("cannot write CPU profile", "path", path, "error", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		logger.Warn("cannot start CPU profile", "error", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		heap()
	}
}
