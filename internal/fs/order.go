package fs

import "container/list"

// A directory's last complete listing is remembered in name order for
// fetching ahead (ahead.go) — within bounds, so that walking a bucket of
// millions of keys does not keep every name it listed: a listing of more
// than maxOrderNames names keeps no order (files read in its order are not
// fetched ahead), and the orders of all directories together hold at most
// maxOrderNames names, the oldest listings' dropped first.
const maxOrderNames = 1 << 16

// orders is the FIFO of directories that hold an order. GUARDED_BY(FS.mu)
type orders struct {
	dirs  list.List // of *inode, oldest first
	names int
}

// orderNames collects a listing's names for its order, up to maxOrderNames.
type orderNames struct {
	names   []string
	tooMany bool
}

func (o *orderNames) add(name string) {
	switch {
	case o.tooMany:
	case len(o.names) == maxOrderNames:
		o.names, o.tooMany = nil, true
	default:
		o.names = append(o.names, name)
	}
}

// setOrderLocked records names as dir's listing order (none when nil),
// replacing the one it had. REQUIRES(f.mu)
func (f *FS) setOrderLocked(dir *inode, names []string) {
	if dir.order != nil {
		f.orders.names -= len(dir.order.names)
		f.orders.dirs.Remove(dir.order.elem)
		dir.order = nil
	}
	if names == nil {
		return
	}
	dir.order = &dirOrder{names: names, last: -1}
	dir.order.elem = f.orders.dirs.PushBack(dir)
	f.orders.names += len(names)
	for f.orders.names > maxOrderNames {
		f.setOrderLocked(f.orders.dirs.Front().Value.(*inode), nil)
	}
}
