package objstoretest

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// Faulty wraps any objstore.Client and fails calls on demand. Failure
// injection lives in a wrapper rather than in the fake so that the same
// faults can be applied to memstore and to a real server.
//
// Operation names passed to hooks are those of the memstore counters:
// "CheckBucket", "Head", "List", "Get", "Put", "Delete", "CopyObject",
// "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
// "CompleteMultipartUpload", "AbortMultipartUpload", "ListMultipartUploads".
// The key is the object key (the destination for CopyObject and
// UploadPartCopy, the prefix for List and ListMultipartUploads, "" for
// CheckBucket).
type Faulty struct {
	inner objstore.Client

	mu       sync.Mutex
	hook     func(op, key string) error           // GUARDED_BY(mu)
	readHook func(key string, offset int64) error // GUARDED_BY(mu)
	latency  time.Duration                        // GUARDED_BY(mu)
}

var _ objstore.Client = (*Faulty)(nil)

// NewFaulty returns a wrapper that delegates every call to c until a hook is injected.
func NewFaulty(c objstore.Client) *Faulty { return &Faulty{inner: c} }

// Inject installs hook, called before every operation. When it returns a
// non-nil error the call fails with that error without reaching the inner
// client. Hooks run concurrently if calls do; they must be safe for that.
func (f *Faulty) Inject(hook func(op, key string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// InjectRead installs hook, called before each Read of a GET body with the
// object offset the read would start at. A non-nil error is returned from that
// Read, simulating a connection that breaks mid-stream.
func (f *Faulty) InjectRead(hook func(key string, offset int64) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readHook = hook
}

// SetLatency delays every call by d (respecting context cancellation).
func (f *Faulty) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Clear removes all hooks and the latency.
func (f *Faulty) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook, f.readHook, f.latency = nil, nil, 0
}

// Inner returns the wrapped client.
func (f *Faulty) Inner() objstore.Client { return f.inner }

func (f *Faulty) before(ctx context.Context, op, key string) error {
	f.mu.Lock()
	hook, latency := f.hook, f.latency
	f.mu.Unlock()
	if latency > 0 {
		timer := time.NewTimer(latency)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	if hook != nil {
		return hook(op, key)
	}
	return nil
}

// Bucket implements objstore.Client.
func (f *Faulty) Bucket() string { return f.inner.Bucket() }

// CheckBucket implements objstore.Client.
func (f *Faulty) CheckBucket(ctx context.Context) error {
	if err := f.before(ctx, "CheckBucket", ""); err != nil {
		return err
	}
	return f.inner.CheckBucket(ctx)
}

// Head implements objstore.Client.
func (f *Faulty) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := f.before(ctx, "Head", key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return f.inner.Head(ctx, key)
}

// List implements objstore.Client.
func (f *Faulty) List(ctx context.Context, in objstore.ListInput) (objstore.ListOutput, error) {
	if err := f.before(ctx, "List", in.Prefix); err != nil {
		return objstore.ListOutput{}, err
	}
	return f.inner.List(ctx, in)
}

// Get implements objstore.Client.
func (f *Faulty) Get(ctx context.Context, in objstore.GetInput) (*objstore.GetOutput, error) {
	if err := f.before(ctx, "Get", in.Key); err != nil {
		return nil, err
	}
	out, err := f.inner.Get(ctx, in)
	if err != nil {
		return nil, err
	}
	out.Body = &faultyBody{f: f, key: in.Key, off: out.Offset, rc: out.Body}
	return out, nil
}

// Put implements objstore.Client.
func (f *Faulty) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	if err := f.before(ctx, "Put", in.Key); err != nil {
		return objstore.PutOutput{}, err
	}
	return f.inner.Put(ctx, in)
}

// Delete implements objstore.Client.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.before(ctx, "Delete", key); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key)
}

// CopyObject implements objstore.Client. The key is the destination.
func (f *Faulty) CopyObject(ctx context.Context, in objstore.CopyInput) (objstore.PutOutput, error) {
	if err := f.before(ctx, "CopyObject", in.Key); err != nil {
		return objstore.PutOutput{}, err
	}
	return f.inner.CopyObject(ctx, in)
}

// CreateMultipartUpload implements objstore.Client.
func (f *Faulty) CreateMultipartUpload(ctx context.Context, in objstore.CreateMultipartInput) (string, error) {
	if err := f.before(ctx, "CreateMultipartUpload", in.Key); err != nil {
		return "", err
	}
	return f.inner.CreateMultipartUpload(ctx, in)
}

// UploadPart implements objstore.Client.
func (f *Faulty) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	if err := f.before(ctx, "UploadPart", in.Key); err != nil {
		return objstore.Part{}, err
	}
	return f.inner.UploadPart(ctx, in)
}

// UploadPartCopy implements objstore.Client. The key is the upload's.
func (f *Faulty) UploadPartCopy(ctx context.Context, in objstore.PartCopyInput) (objstore.Part, error) {
	if err := f.before(ctx, "UploadPartCopy", in.Key); err != nil {
		return objstore.Part{}, err
	}
	return f.inner.UploadPartCopy(ctx, in)
}

// CompleteMultipartUpload implements objstore.Client.
func (f *Faulty) CompleteMultipartUpload(ctx context.Context, in objstore.CompleteInput) (objstore.PutOutput, error) {
	if err := f.before(ctx, "CompleteMultipartUpload", in.Key); err != nil {
		return objstore.PutOutput{}, err
	}
	return f.inner.CompleteMultipartUpload(ctx, in)
}

// AbortMultipartUpload implements objstore.Client.
func (f *Faulty) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if err := f.before(ctx, "AbortMultipartUpload", key); err != nil {
		return err
	}
	return f.inner.AbortMultipartUpload(ctx, key, uploadID)
}

// ListMultipartUploads implements objstore.Client. The key is the prefix.
func (f *Faulty) ListMultipartUploads(ctx context.Context, prefix string) ([]objstore.Upload, error) {
	if err := f.before(ctx, "ListMultipartUploads", prefix); err != nil {
		return nil, err
	}
	return f.inner.ListMultipartUploads(ctx, prefix)
}

// faultyBody consults the read hook before each Read of a GET body.
type faultyBody struct {
	f   *Faulty
	key string
	off int64 // object offset of the next byte
	rc  io.ReadCloser
}

func (b *faultyBody) Read(p []byte) (int, error) {
	b.f.mu.Lock()
	hook := b.f.readHook
	b.f.mu.Unlock()
	if hook != nil {
		if err := hook(b.key, b.off); err != nil {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	return n, err
}

func (b *faultyBody) Close() error { return b.rc.Close() }

// Mangled passes every call to Client, and lets Mangle change each
// successful GET response: a server returning other ranges, sizes or bodies
// than asked for.
type Mangled struct {
	objstore.Client
	Mangle func(*objstore.GetOutput)
}

// Get implements objstore.Client.
func (m *Mangled) Get(ctx context.Context, in objstore.GetInput) (*objstore.GetOutput, error) {
	out, err := m.Client.Get(ctx, in)
	if err == nil {
		m.Mangle(out)
	}
	return out, err
}
