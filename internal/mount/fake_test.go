package mount

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// fakeSession is a Session without FUSE: Wait blocks until Unmount succeeds
// (or unmountFromOutside is called).
type fakeSession struct {
	mu          sync.Mutex
	unmountErrs []error // returned by the first Unmount calls, in order
	unmounts    int
	unmounted   chan struct{}
	once        sync.Once
	closed      atomic.Bool
	onClose     func()
}

func newFakeSession(unmountErrs ...error) *fakeSession {
	return &fakeSession{unmountErrs: unmountErrs, unmounted: make(chan struct{})}
}

func (s *fakeSession) Wait() { <-s.unmounted }

func (s *fakeSession) Unmount() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unmounts++
	if len(s.unmountErrs) > 0 {
		err := s.unmountErrs[0]
		s.unmountErrs = s.unmountErrs[1:]
		return err
	}
	s.unmountFromOutside()
	return nil
}

func (s *fakeSession) unmountFromOutside() { s.once.Do(func() { close(s.unmounted) }) }

func (s *fakeSession) Close() {
	s.closed.Store(true)
	if s.onClose != nil {
		s.onClose()
	}
}

func (s *fakeSession) unmountCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unmounts
}

// fakeClient is an objstore.Client whose CheckBucket runs check; the other
// methods are not used by the mount step (calling them panics).
type fakeClient struct {
	objstore.Client
	check func(ctx context.Context) error
}

func (c fakeClient) Bucket() string                        { return "fake" }
func (c fakeClient) CheckBucket(ctx context.Context) error { return c.check(ctx) }
