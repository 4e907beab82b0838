package prefetch

import (
	"bytes"
	"testing"
)

func TestReaderFromContentServesItWithoutRequests(t *testing.T) {
	data := pattern(5000)
	released := 0
	r := NewFromContent("k", "etag", data, func() { released++ })
	if r.Size() != 5000 {
		t.Fatalf("Size = %d", r.Size())
	}
	for _, tc := range []struct {
		off  int64
		n    int
		want []byte
	}{
		{0, 4096, data[:4096]},
		{4096, 4096, data[4096:]}, // short only at the end
		{100, 10, data[100:110]},
		{5000, 10, nil},
		{7000, 10, nil},
	} {
		got, release, err := r.ReadView(ctx, make([]byte, tc.n), tc.off)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("ReadView(%d, %d) = %d bytes, %v; want %d bytes", tc.off, tc.n, len(got), err, len(tc.want))
			continue
		}
		release()
	}
	if _, _, err := r.ReadView(ctx, make([]byte, 1), -1); err == nil {
		t.Error("a negative offset was accepted")
	}
	r.Close()
	if released != 1 {
		t.Errorf("release called %d times by Close, want once", released)
	}
}
