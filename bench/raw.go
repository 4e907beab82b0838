package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/fuse/fusetest"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// rawEnv is what the raw S3 jobs need: a warm client, the object size and,
// for uploads, the bytes to send.
type rawEnv struct {
	m        *minio
	bucket   string
	c        objstore.Client
	size     int64
	data     []byte   // write source, size bytes
	mpu8Sums []string // CRC32Cs of data's mpu8 parts
	mpuNSums []string // and of its mpuN parts
	src      string   // the same bytes in a file on tmpfs (dd's source)
	work     string   // private directory (fuse0's mount point)
	randSize int64    // bytes read by the random-read jobs
	randTime time.Duration
}

const rawConns = 16 // as bucketfs's default --max-threads

// rawJob measures one thing with the SDK client directly.
type rawJob struct {
	id, name string
	run      func(ctx context.Context, e *rawEnv) (sample, error)
}

// warmServer sends MinIO two small requests, untimed, after caches were
// dropped: the page-ins of its own code then do not land in the next job.
func warmServer(ctx context.Context, c objstore.Client) {
	_, _ = c.Head(ctx, bigKey)
	_, _ = c.List(ctx, objstore.ListInput{Prefix: manyDir + "/", Delimiter: "/", MaxKeys: 1})
}

func rawJobs() []rawJob {
	return append([]rawJob{
		{"get8", "GET, 8 parallel 8 MiB ranges", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawParallelGet(ctx, e, 8<<20, 8)
		}},
		{"get1", "GET, one request", rawSingleGet},
		clientsJob(4), clientsJob(8), clientsJob(16),
		{"fuse0r", "no S3: dd of a file of the object's size from a FUSE file system that already has it in memory " +
			"(internal/fuse/fusetest; page cache, 1 MiB requests, 4 MiB read-ahead, as bucketfs); client CPU = " +
			"that file system and dd", rawFuseNullRead},
		{"rand", "256 KiB ranged GETs, one at a time", rawRandom},
		{"put", "PUT, one request", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawWrite(ctx, e, func(ctx context.Context, key string) error {
				_, err := e.c.Put(ctx, objstore.PutInput{Key: key, Body: e.data})
				return err
			})
		}},
		{"mpu8", "multipart, 8 MiB parts, 8 in parallel", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawWrite(ctx, e, func(ctx context.Context, key string) error {
				return multipartPut(ctx, e.c, key, e.data, 8<<20, 8, nil)
			})
		}},
		{"mpuN", "multipart, 8 parts of size/8, all in parallel", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawWrite(ctx, e, func(ctx context.Context, key string) error {
				return multipartPut(ctx, e.c, key, e.data, mpuNPart(e.size), 8, nil)
			})
		}},
		{"mpu8c", "as mpu8, the parts' CRC32Cs computed before the run (the upload without its checksums' " +
			"cost, for the write floor)", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawWrite(ctx, e, func(ctx context.Context, key string) error {
				return multipartPut(ctx, e.c, key, e.data, 8<<20, 8, e.mpu8Sums)
			})
		}},
		{"mpuNc", "as mpuN, the parts' CRC32Cs computed before the run", func(ctx context.Context, e *rawEnv) (sample, error) {
			return rawWrite(ctx, e, func(ctx context.Context, key string) error {
				return multipartPut(ctx, e.c, key, e.data, mpuNPart(e.size), 8, e.mpuNSums)
			})
		}},
		{"fuse0", "no S3: dd of the source into a FUSE file system that only takes each write and copies and " +
			"CRC32Cs it into an 8 MiB part (internal/fuse/fusetest, 1 MiB writes, direct I/O as bucketfs); " +
			"client CPU = that file system and dd: the least any FUSE writer spends before uploading", rawFuseNull},
		{"ttfb", "first byte of a GET, new client and connection", rawTTFB},
		{"list", "ListObjectsV2 paging of 10,000 entries (delimiter /)", rawList},
		{"small", "1,000 × 4 KiB GETs, one at a time", rawSmall},
		{"lookup", "1,000 × (GET of the first 64 KiB ‖ LIST key/, max 1), one file at a time", rawLookup},
	}, posixRawJobs()...)
}

func rawParallelGet(ctx context.Context, e *rawEnv, part int64, workers int) (sample, error) {
	start := time.Now()
	err := readRanges(ctx, e.c, bigKey, e.size, part, workers)
	return sample{secs: time.Since(start).Seconds(), bytes: e.size, ops: (e.size + part - 1) / part}, err
}

// clientDepth is how many ranged GETs each client of getcN keeps in flight:
// it reads the next part while it takes in the one before.
const clientDepth = 2

// clientsJob is getcN, the raw reference of seqN: n SDK clients, each of its
// own (new connections, made before the clock starts) reading its own shard
// from start to end in 8 MiB ranged GETs, clientDepth at a time.
func clientsJob(n int) rawJob {
	return rawJob{fmt.Sprintf("getc%d", n), fmt.Sprintf("%d clients at once, each its own object (shard) in 8 MiB "+
		"ranged GETs, %d at a time", n, clientDepth), func(ctx context.Context, e *rawEnv) (sample, error) {
		clients := make([]objstore.Client, n)
		for i := range clients {
			c, err := e.m.client(ctx, e.bucket, rawConns)
			if err != nil {
				return sample{}, err
			}
			clients[i] = c
		}
		size := shardSize(e.size)
		start := time.Now()
		err := parallel(ctx, n, n, func(ctx context.Context, i int) error {
			return readRanges(ctx, clients[i], shardKey(i), size, 8<<20, clientDepth)
		})
		return sample{secs: time.Since(start).Seconds(), bytes: int64(n) * size, ops: int64(n)}, err
	}}
}

// readRanges reads key (size bytes) in ranged GETs of part, depth at a time
// and in order, each into a reused buffer.
func readRanges(ctx context.Context, c objstore.Client, key string, size, part int64, depth int) error {
	n := int((size + part - 1) / part)
	bufs := make(chan []byte, depth)
	for range depth {
		bufs <- make([]byte, part)
	}
	return parallel(ctx, n, depth, func(ctx context.Context, i int) error {
		buf := <-bufs
		defer func() { bufs <- buf }()
		off := int64(i) * part
		length := min(part, size-off)
		out, err := c.Get(ctx, objstore.GetInput{Key: key, Offset: off, Length: length})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		if out.Offset != off || out.Length != length {
			return fmt.Errorf("GET %s %d+%d returned %d+%d", key, off, length, out.Offset, out.Length)
		}
		_, err = io.ReadFull(out.Body, buf[:length])
		return err
	})
}

func rawSingleGet(ctx context.Context, e *rawEnv) (sample, error) {
	start := time.Now()
	out, err := e.c.Get(ctx, objstore.GetInput{Key: bigKey, Length: -1})
	if err != nil {
		return sample{}, err
	}
	defer out.Body.Close()
	n, err := io.CopyBuffer(io.Discard, out.Body, make([]byte, 1<<20))
	if err == nil && n != e.size {
		err = fmt.Errorf("read %d bytes, want %d", n, e.size)
	}
	return sample{secs: time.Since(start).Seconds(), bytes: n, ops: 1}, err
}

// rawRandom reads randSize bytes in 256 KiB ranged GETs at random aligned
// offsets, queue depth 1, as fio's psync randread does through a mount.
func rawRandom(ctx context.Context, e *rawEnv) (sample, error) {
	const bs = 256 << 10
	blocks := e.size / bs
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, bs)
	var done int64
	var ops int64
	start := time.Now()
	for done < e.randSize && time.Since(start) < e.randTime {
		off := r.Int64N(blocks) * bs
		out, err := e.c.Get(ctx, objstore.GetInput{Key: bigKey, Offset: off, Length: bs})
		if err != nil {
			return sample{}, err
		}
		_, err = io.ReadFull(out.Body, buf)
		out.Body.Close()
		if err != nil {
			return sample{}, err
		}
		done += bs
		ops++
	}
	return sample{secs: time.Since(start).Seconds(), bytes: done, ops: ops}, nil
}

// rawWrite times one upload through to completion, then deletes the object
// (untimed) so that every repeat creates a new one.
func rawWrite(ctx context.Context, e *rawEnv, upload func(ctx context.Context, key string) error) (sample, error) {
	key := fmt.Sprintf("raw-write-%s", randomHex(4))
	start := time.Now()
	err := upload(ctx, key)
	s := sample{secs: time.Since(start).Seconds(), bytes: e.size, ops: 1}
	if err == nil {
		var info objstore.ObjectInfo
		if info, err = e.c.Head(ctx, key); err == nil && info.Size != e.size {
			err = fmt.Errorf("uploaded object has %d bytes, want %d", info.Size, e.size)
		}
	}
	if derr := e.c.Delete(context.WithoutCancel(ctx), key); err == nil {
		err = derr
	}
	return s, err
}

// rawTTFB builds a new client (so a new TCP connection, as a fresh mount
// has) and times a whole-object GET until its first byte.
func rawTTFB(ctx context.Context, e *rawEnv) (sample, error) {
	c, err := e.m.client(ctx, e.bucket, rawConns)
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	out, err := c.Get(ctx, objstore.GetInput{Key: bigKey, Length: -1})
	if err != nil {
		return sample{}, err
	}
	var b [1]byte
	_, err = io.ReadFull(out.Body, b[:])
	secs := time.Since(start).Seconds()
	out.Body.Close()
	return sample{secs: secs, bytes: 1, ops: 1}, err
}

func rawList(ctx context.Context, e *rawEnv) (sample, error) {
	start := time.Now()
	var n, pages int64
	in := objstore.ListInput{Prefix: manyDir + "/", Delimiter: "/"}
	for {
		out, err := e.c.List(ctx, in)
		if err != nil {
			return sample{}, err
		}
		pages++
		n += int64(len(out.Objects) + len(out.CommonPrefixes))
		if out.NextContinuationToken == "" {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	s := sample{secs: time.Since(start).Seconds(), ops: pages}
	if n != manyCount {
		return s, fmt.Errorf("listed %d entries, want %d", n, manyCount)
	}
	return s, nil
}

func rawSmall(ctx context.Context, e *rawEnv) (sample, error) {
	start := time.Now()
	buf := make([]byte, smallSize)
	var total int64
	for i := range smallCount {
		out, err := e.c.Get(ctx, objstore.GetInput{Key: fmt.Sprintf("%s/s%04d", smallDir, i), Length: -1})
		if err != nil {
			return sample{}, err
		}
		n, err := io.ReadFull(out.Body, buf)
		out.Body.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return sample{}, err
		}
		total += int64(n)
	}
	s := sample{secs: time.Since(start).Seconds(), bytes: total, ops: smallCount}
	if total != smallCount*smallSize {
		return s, fmt.Errorf("read %d bytes, want %d", total, smallCount*smallSize)
	}
	return s, nil
}

// rawLookup is what a lookup costs under Mountpoint's semantics, with the
// read of a small file in it: for each file in turn, its stat (a GET that
// brings it whole) raced with the LIST that finds a directory of the same
// name, which would shadow it. It is the least a mount can send per file
// for `cat dir/*` once the listing's TTL has passed.
func rawLookup(ctx context.Context, e *rawEnv) (sample, error) {
	start := time.Now()
	buf := make([]byte, smallSize)
	var total int64
	for i := range smallCount {
		key := fmt.Sprintf("%s/s%04d", smallDir, i)
		var wg sync.WaitGroup
		var lerr error
		var dir bool
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.c.List(ctx, objstore.ListInput{Prefix: key + "/", Delimiter: "/", MaxKeys: 1})
			lerr, dir = err, len(out.Objects)+len(out.CommonPrefixes) > 0
		}()
		out, err := e.c.Get(ctx, objstore.GetInput{Key: key, Length: 64 << 10})
		if err == nil {
			var n int
			n, err = io.ReadFull(out.Body, buf)
			out.Body.Close()
			total += int64(n)
		}
		wg.Wait()
		switch {
		case err != nil:
			return sample{}, err
		case lerr != nil:
			return sample{}, lerr
		case dir:
			return sample{}, fmt.Errorf("%s/ is a directory", key)
		}
	}
	s := sample{secs: time.Since(start).Seconds(), bytes: total, ops: smallCount}
	if total != smallCount*smallSize {
		return s, fmt.Errorf("read %d bytes, want %d", total, smallCount*smallSize)
	}
	return s, nil
}

// rawFuseNull measures FUSE's own cost of receiving a write: dd of the
// source into a fusetest.Null mounted in this process, whose CPU (with
// dd's) the sample's client CPU then is.
func rawFuseNull(ctx context.Context, e *rawEnv) (sample, error) {
	return withNull(ctx, e, "fuse0", func(dir string, null *fusetest.Null) (sample, error) {
		r, err := run(ctx, cmdSpec{name: "dd", args: []string{"if=" + e.src, "of=" + filepath.Join(dir, "f"), "bs=1M"},
			timeout: 10 * time.Minute})
		s := sample{secs: r.elapsed.Seconds(), bytes: ddCopied(r.stderr), ops: 1}
		if err == nil && (s.bytes != e.size || null.Written() != e.size) {
			err = fmt.Errorf("dd copied %d bytes and the file system took %d, want %d", s.bytes, null.Written(), e.size)
		}
		return s, err
	})
}

// rawFuseNullRead measures a sequential read through FUSE and the page
// cache alone: dd of fusetest.Null's file, as the seq1 job reads big.bin.
func rawFuseNullRead(ctx context.Context, e *rawEnv) (sample, error) {
	return withNull(ctx, e, "fuse0r", func(dir string, _ *fusetest.Null) (sample, error) {
		r, err := run(ctx, cmdSpec{name: "dd", args: []string{"if=" + filepath.Join(dir, fusetest.ReadName),
			"of=/dev/null", "bs=1M"}, timeout: 10 * time.Minute})
		s := sample{secs: r.elapsed.Seconds(), bytes: ddCopied(r.stderr), ops: 1}
		if err == nil && s.bytes != e.size {
			err = fmt.Errorf("dd copied %d bytes, want %d", s.bytes, e.size)
		}
		return s, err
	})
}

// withNull runs fn on a fusetest.Null mounted in this process for the job.
func withNull(ctx context.Context, e *rawEnv, job string, fn func(dir string, null *fusetest.Null) (sample, error)) (sample, error) {
	dir := filepath.Join(e.work, "mnt-"+job)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sample{}, err
	}
	null, err := fusetest.MountNull(dir, e.size)
	if err != nil {
		return sample{}, err
	}
	defer func() { _ = null.Unmount() }()
	return fn(dir, null)
}

// mpuNPart is the part size of mpuN: an eighth of the object.
func mpuNPart(size int64) int64 { return max((size+7)/8, objstore.MinPartSize) }
