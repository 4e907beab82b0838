package csi

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// fakeMounter is a Mounter over an in-memory mount table. Mount "mounts"
// args[1] with the source bucketfs would show; hooks let tests block or fail.
type fakeMounter struct {
	mu      sync.Mutex
	table   map[string]*MountPoint
	mounts  [][]string // every Mount call's args
	unmount []string   // every Unmount call's target

	mountErr error                                    // returned by the next Mount calls
	onMount  func(ctx context.Context, args []string) // called first, without the lock
}

func newFakeMounter() *fakeMounter { return &fakeMounter{table: map[string]*MountPoint{}} }

func (f *fakeMounter) Mount(ctx context.Context, args []string) error {
	if f.onMount != nil {
		f.onMount(ctx, args)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mounts = append(f.mounts, args)
	if f.mountErr != nil {
		return f.mountErr
	}
	mp := &MountPoint{Source: "s3://" + args[0], FSType: FSType}
	for _, a := range args[2:] {
		switch {
		case a == "--read-only":
			mp.ReadOnly = true
		case strings.HasPrefix(a, "--prefix="):
			mp.Source += "/" + strings.TrimPrefix(a, "--prefix=")
		}
	}
	f.table[args[1]] = mp
	return nil
}

func (f *fakeMounter) Unmount(_ context.Context, target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unmount = append(f.unmount, target)
	if f.table[target] == nil {
		return fmt.Errorf("umount %s: invalid argument", target)
	}
	delete(f.table, target)
	return nil
}

func (f *fakeMounter) MountAt(target string) (*MountPoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mp := f.table[target]; mp != nil {
		c := *mp
		return &c, nil
	}
	return nil, nil
}

func (f *fakeMounter) set(target string, mp *MountPoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.table[target] = mp
}

func (f *fakeMounter) calls() (mounts, unmounts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mounts), len(f.unmount)
}

// testDriver is a driver on a fake mounter whose kubelet directory is a
// temporary directory.
func testDriver(t *testing.T) (*Driver, *fakeMounter, string) {
	t.Helper()
	kubelet := t.TempDir()
	m := newFakeMounter()
	opts := Options{Endpoint: "unix:///tmp/x.sock", NodeID: "node-1", KubeletDir: kubelet, BucketfsPath: "/bin/true"}
	return New(opts, m, slog.New(slog.DiscardHandler), "test"), m, kubelet
}
