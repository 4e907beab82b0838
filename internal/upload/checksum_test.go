package upload_test

import (
	"context"
	"hash/crc32"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/memstore"
	"github.com/bucketfs/bucketfs/internal/upload"
)

// checksums records, for every body sent, whether it came with its own CRC32C.
type checksums struct {
	objstore.Client
	mu           sync.Mutex
	right, wrong int
}

func (c *checksums) check(body []byte, sent string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sent == objstore.CRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))) {
		c.right++
	} else {
		c.wrong++
	}
}

func (c *checksums) UploadPart(ctx context.Context, in objstore.PartInput) (objstore.Part, error) {
	c.check(in.Body, in.ChecksumCRC32C)
	return c.Client.UploadPart(ctx, in)
}

func (c *checksums) Put(ctx context.Context, in objstore.PutInput) (objstore.PutOutput, error) {
	c.check(in.Body, in.ChecksumCRC32C)
	return c.Client.Put(ctx, in)
}

// The writer computes each body's CRC32C as the bytes arrive, whatever the
// write sizes, so that the client need not read the body again: every part
// and every single PUT carries its own.
func TestEveryBodyCarriesItsCRC32C(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size, chunk int
		requests    int
	}{
		{"small object, one PUT", 100_000, 4096, 1},
		{"empty object", 0, 0, 1},
		{"parts and a tail, odd writes", 3*ps + 12345, 65521, 4},
		{"exact parts, one write", 2 * ps, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New("b")
			c := &checksums{Client: s}
			w := upload.New(c, "k", ps, 2, discard)
			data := content(tc.size)
			writeAll(t, w, data, tc.chunk)
			if _, err := w.Complete(context.Background()); err != nil {
				t.Fatal(err)
			}
			if c.right != tc.requests || c.wrong != 0 {
				t.Errorf("%d bodies with their CRC32C and %d without, want %d and 0", c.right, c.wrong, tc.requests)
			}
			if got, _ := s.Object("k"); string(got) != string(data) {
				t.Errorf("object has %d bytes that differ from the %d written", len(got), len(data))
			}
		})
	}
}
