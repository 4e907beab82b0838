package e2e

import (
	"context"
	"errors"
	"fmt"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

func objNotFound(err error) bool { return errors.Is(err, objstore.ErrNotFound) }

func putBig(t interface {
	Helper()
	Fatalf(string, ...any)
}, c objstore.Client, key string, data []byte) {
	t.Helper()
	if _, err := c.Put(context.Background(), objstore.PutInput{Key: key, Body: data}); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }
