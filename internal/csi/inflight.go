package csi

import "sync"

// inFlight is the set of keys (target paths) with an operation in progress,
// as aws-ebs-csi-driver's internal/inflight.go: a second call for the same
// key while the first runs is refused (Aborted), and the CO retries it.
type inFlight struct {
	mu   sync.Mutex
	keys map[string]bool
}

// insert marks key busy and reports whether it was free.
func (f *inFlight) insert(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string]bool{}
	}
	if f.keys[key] {
		return false
	}
	f.keys[key] = true
	return true
}

// remove marks key free.
func (f *inFlight) remove(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, key)
}

// keyedMutex serializes the calls for one key (a volume ID): the second
// waits for the first, unlike inFlight, since calls for different targets
// of one volume are legitimate (two pods on a node sharing a volume).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to 0
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()

	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
