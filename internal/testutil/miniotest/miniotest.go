// Package miniotest runs a real MinIO server for tests.
//
// The binary is looked up in $BUCKETFS_MINIO, then in
// $XDG_CACHE_HOME/bucketfs/minio-bin/minio (~/.cache/...), then as "minio" on
// PATH. When none exists, tests that need MinIO fail with instructions, unless
// BUCKETFS_SKIP_MINIO=1, in which case they are skipped.
//
// Each server gets a free loopback port, a private data directory, random root
// credentials and MINIO_BROWSER=off. Start gives a test its own server; Shared
// lazily starts one server per test binary, which RunMain stops after m.Run:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }
//
// Without RunMain the shared server is still killed when the test process
// exits (via the parent-death signal on Linux) but its data directory stays.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

// MinIOVersion is the pinned module version the tests are run against.
const MinIOVersion = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

const (
	region       = "us-east-1"
	startTimeout = 60 * time.Second
	startTries   = 3
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	dataDir string
	ownsDir bool // remove dataDir on Stop
	logs    *tailBuffer
	stop    sync.Once
}

// Binary returns the path of the MinIO binary to use.
func Binary() (string, error) {
	if p := os.Getenv("BUCKETFS_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("BUCKETFS_MINIO=%s: %w", p, err)
		}
		return p, nil
	}
	var candidates []string
	if dir, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(dir, "bucketfs", "minio-bin", "minio"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "bucketfs", "minio-bin", "minio"))
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New("MinIO binary not found: install it with " +
		"`GOBIN=$HOME/.cache/bucketfs/minio-bin go install " + MinIOVersion + "`, " +
		"or set BUCKETFS_MINIO=/path/to/minio (BUCKETFS_SKIP_MINIO=1 skips these tests)")
}

// binaryOrSkip finds the binary, or fails/skips t as the package doc says.
func binaryOrSkip(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("BUCKETFS_SKIP_MINIO") == "1" {
			t.Skip(err.Error())
		}
		t.Fatal(err.Error())
	}
	return bin
}

// Start starts a MinIO server owned by t and stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binaryOrSkip(t)
	s, err := start(bin, t.TempDir(), false)
	if err != nil {
		t.Fatalf("starting MinIO: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Shared returns the server shared by every test of this test binary,
// starting it on first use. Stop it with RunMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := binaryOrSkip(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "bucketfs-minio-")
		if err == nil {
			shared.srv, err = start(bin, dir, true)
			if err != nil {
				os.RemoveAll(dir)
			}
		}
		shared.err = err
	}
	if shared.err != nil {
		t.Fatalf("starting shared MinIO: %v", shared.err)
	}
	return shared.srv
}

// RunMain runs the tests and then stops the shared server, if one was started.
func RunMain(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
	}
}

func start(bin, dir string, ownsDir bool) (*Server, error) {
	var lastErr error
	for range startTries {
		// MinIO cannot report a port chosen by the kernel reliably, so pick a
		// free one and retry if another process grabs it in between.
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, dir, port)
		if err == nil {
			s.ownsDir = ownsDir
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin, dir string, port int) (*Server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: "bucketfs-test",
		SecretKey: randomHex(16),
		Region:    region,
		exited:    make(chan struct{}),
		dataDir:   dir,
		logs:      &tailBuffer{max: 16 << 10},
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
		"--certs-dir", filepath.Join(dir, ".certs"), filepath.Join(dir, "data"))
	cmd.Env = append(cleanEnv(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+region,
	)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("minio exited before becoming ready: %s", s.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("minio not ready on %s after %v: %s", addr, startTimeout, s.logs.String())
		}
	}
}

// Stop kills the server and removes its data if it owns it. It is idempotent.
func (s *Server) Stop() {
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if s.ownsDir {
			os.RemoveAll(s.dataDir)
		}
	})
}

// Logs returns the tail of the server's output.
func (s *Server) Logs() string { return s.logs.String() }

var bucketSeq atomic.Int64

// NewBucket creates a fresh bucket with a unique, valid name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("bucketfs-%d-%s", bucketSeq.Add(1), randomHex(6))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s3.CreateBucket(ctx, s.Config(name)); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// Config returns an s3.Config for bucket on this server, with its root credentials.
func (s *Server) Config(bucket string) s3.Config {
	return s3.Config{
		Bucket:         bucket,
		Region:         s.Region,
		EndpointURL:    s.Endpoint,
		ForcePathStyle: true,
		Credentials:    &s3.StaticCredentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey},
	}
}

// Client returns an objstore client for bucket on this server.
func (s *Server) Client(t testing.TB, bucket string) objstore.Client {
	t.Helper()
	c, err := s3.New(context.Background(), s.Config(bucket), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return c
}

// Env returns the environment a subprocess (e.g. the bucketfs binary) needs to
// reach this server through the SDK's standard variables.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_ENDPOINT_URL=" + s.Endpoint,
	}
}

// cleanEnv is the test's environment without MINIO_* variables that could
// change the server's behaviour.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
