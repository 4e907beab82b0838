package mount

import (
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// tuneRuntime keeps the Go heap near the memory target: buffers are recycled
// through pools, and a soft memory limit makes the garbage collector work
// harder before the process grows past target plus headroom. target is the
// core's resolved budget (fs.New has applied the default).
func tuneRuntime(target int64, logger *slog.Logger) {
	limit := target + 64<<20 // room for the runtime, metadata and in-flight FUSE buffers
	debug.SetMemoryLimit(limit)
	logger.Debug("memory target", "target_bytes", target, "go_memory_limit_bytes", limit)
}

// ProfileEnv names a file to write a CPU profile of the mount to, from
// mount until unmount (a development aid: `go tool pprof bucketfs FILE`).
const ProfileEnv = "BUCKETFS_CPUPROFILE"

// startProfile starts CPU profiling when ProfileEnv is set and returns the
// function that stops it.
func startProfile(logger *slog.Logger) func() {
	path := os.Getenv(ProfileEnv)
	if path == "" {
		return func() {}
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
	}
}
