package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

const region = "us-east-1"

// minio is the server the whole run talks to.
type minio struct {
	endpoint, user, secret string
	dataDir                string
	cmd                    *exec.Cmd
	exited                 chan struct{}
	logs                   *tailBuffer
}

// startMinIO launches bin on a free loopback port with data in dataDir. With
// keep, the server outlives this process (no parent-death signal) and is not
// stopped by the cleanups.
func startMinIO(ctx context.Context, bin, dataDir string, keep bool) (*minio, error) {
	var lastErr error
	for range 3 { // another process may take the free port before MinIO does
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		m, err := launchMinIO(ctx, bin, dataDir, port, keep)
		if err == nil {
			return m, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launchMinIO(ctx context.Context, bin, dataDir string, port int, keep bool) (*minio, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	m := &minio{
		endpoint: "http://" + addr, user: "bucketfs-bench", secret: randomHex(16),
		dataDir: dataDir, exited: make(chan struct{}), logs: &tailBuffer{max: 16 << 10},
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
		"--certs-dir", filepath.Join(dataDir, ".certs"), filepath.Join(dataDir, "data"))
	cmd.Env = childEnv("MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.secret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_REGION="+region)
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !keep {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	m.cmd = cmd
	go func() { _ = cmd.Wait(); close(m.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(m.endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("minio exited before becoming ready: %s", m.logs.String())
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("minio not ready on %s after 60s: %s", addr, m.logs.String())
		}
	}
}

// emptyTrash removes what MinIO keeps of deleted objects. MinIO moves a
// deleted object to .minio.sys/tmp/.trash and empties it slowly (every 5
// minutes by default, with pauses between removals; at once only when the
// drive is almost full). On tmpfs that is memory: the GiB each write job
// uploads and deletes piled up to 20 GiB within one run, and the machine
// slowed down, then stalled, as memory ran out. Called between repeats.
func (m *minio) emptyTrash() error {
	trash := filepath.Join(m.dataDir, "data", ".minio.sys", "tmp", ".trash")
	ents, err := os.ReadDir(trash)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(trash, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (m *minio) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
		}
	}
}

// config is an s3.Config for bucket with the root credentials.
func (m *minio) config(bucket string, maxConns int) s3.Config {
	return s3.Config{
		Bucket:         bucket,
		Region:         region,
		EndpointURL:    m.endpoint,
		ForcePathStyle: true,
		MaxConnections: maxConns,
		Credentials:    &s3.StaticCredentials{AccessKeyID: m.user, SecretAccessKey: m.secret},
	}
}

func (m *minio) createBucket(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return s3.CreateBucket(ctx, m.config(bucket, 0))
}

func (m *minio) client(ctx context.Context, bucket string, maxConns int) (*s3.Client, error) {
	return s3.New(ctx, m.config(bucket, maxConns), slog.New(slog.DiscardHandler))
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
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// Layout of the seeded bucket.
const (
	bigKey     = "big.bin"
	manyDir    = "many" // manyCount small objects
	manyCount  = 10000
	smallDir   = "small" // smallCount objects of smallSize bytes
	smallCount = 1000
	smallSize  = 4 << 10
	writeDir   = "written" // where write jobs create files
	shardDir   = "shards"  // shardCount objects of shardSize, one per reader of seqN
	shardCount = 16
)

func shardKey(i int) string { return fmt.Sprintf("%s/s%02d.bin", shardDir, i) }

// shardSize is the size of each shard: a quarter of the big object, so that
// four readers read as many bytes as one reader of big.bin.
func shardSize(size int64) int64 { return size / 4 }

// randomBytes returns n pseudo-random bytes (incompressible, fast to make).
func randomBytes(n int64, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1, 2, 3})
	_, _ = r.Read(b)
	return b
}

// seed uploads what the selected jobs need: the big object, the shards
// (shardBytes each, 0 for none: each its own random bytes), the 10,000-entry
// directory and the 1,000 small files.
func seed(ctx context.Context, c objstore.Client, big []byte, shardBytes int64, many, small bool) error {
	if big != nil {
		if err := multipartPut(ctx, c, bigKey, big, 8<<20, 8, nil); err != nil {
			return fmt.Errorf("seeding %s: %w", bigKey, err)
		}
	}
	for i := range shardCount {
		if shardBytes == 0 {
			break
		}
		if err := multipartPut(ctx, c, shardKey(i), randomBytes(shardBytes, uint64(i)+10), 8<<20, 8, nil); err != nil {
			return fmt.Errorf("seeding %s: %w", shardKey(i), err)
		}
	}
	var keys []string
	var bodies [][]byte
	if many {
		for i := range manyCount {
			keys = append(keys, fmt.Sprintf("%s/f%05d", manyDir, i))
			bodies = append(bodies, []byte(strconv.Itoa(i)+"\n"))
		}
	}
	if small {
		for i := range smallCount {
			keys = append(keys, fmt.Sprintf("%s/s%04d", smallDir, i))
			bodies = append(bodies, randomBytes(smallSize, uint64(i)+100))
		}
	}
	return parallel(ctx, len(keys), 32, func(ctx context.Context, i int) error {
		_, err := c.Put(ctx, objstore.PutInput{Key: keys[i], Body: bodies[i]})
		return err
	})
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// multipartPut uploads data as key in parts of partSize, workers at a time.
// sums are the parts' CRC32Cs when computed beforehand (nil: the client
// computes them).
func multipartPut(ctx context.Context, c objstore.Client, key string, data []byte, partSize int64, workers int, sums []string) error {
	id, err := c.CreateMultipartUpload(ctx, objstore.CreateMultipartInput{Key: key})
	if err != nil {
		return err
	}
	n := int((int64(len(data)) + partSize - 1) / partSize)
	parts := make([]objstore.Part, n)
	err = parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		end := min(int64(i+1)*partSize, int64(len(data)))
		in := objstore.PartInput{Key: key, UploadID: id, Number: int32(i + 1), Body: data[int64(i)*partSize : end]}
		if sums != nil {
			in.ChecksumCRC32C = sums[i]
		}
		p, err := c.UploadPart(ctx, in)
		parts[i] = p
		return err
	})
	if err == nil {
		_, err = c.CompleteMultipartUpload(ctx, objstore.CompleteInput{Key: key, UploadID: id, Parts: parts})
	}
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.AbortMultipartUpload(actx, key, id)
	}
	return err
}

// tmpfsDir picks the directory for MinIO's data and the write source: tmpfs
// (/dev/shm) when it has room, so that no disk and no dropped page cache
// slows the server down and the numbers measure the clients.
func tmpfsDir(need int64) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && int64(st.Bavail)*st.Bsize > need {
		return "/dev/shm", true
	}
	return os.TempDir(), false
}

// partSums are the CRC32Cs of data's parts of partSize.
func partSums(data []byte, partSize int64) []string {
	var sums []string
	table := crc32.MakeTable(crc32.Castagnoli)
	for off := int64(0); off < int64(len(data)); off += partSize {
		sums = append(sums, objstore.CRC32C(crc32.Checksum(data[off:min(off+partSize, int64(len(data)))], table)))
	}
	return sums
}
