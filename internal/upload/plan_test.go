package upload

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// checkPlan checks S3's rules and that copies come from clean bytes.
func checkPlan(t *testing.T, size int64, clean []stage.Range, parts []piece, minPart int64) {
	t.Helper()
	pos := int64(0)
	for i, p := range parts {
		if p.Off != pos || p.End <= p.Off {
			t.Fatalf("part %d %v does not follow %d (plan %v)", i, p, pos, parts)
		}
		if i < len(parts)-1 && p.len() < minPart {
			t.Fatalf("part %d of %d is %d bytes, under the minimum (plan %v, clean %v)", i, len(parts), p.len(), parts, clean)
		}
		if p.len() > maxPartSize {
			t.Fatalf("part %d is %d bytes, over 5 GiB", i, p.len())
		}
		if p.Copy {
			inside := false
			for _, c := range clean {
				if c.Off <= p.Off && p.End <= c.End {
					inside = true
				}
			}
			if !inside {
				t.Fatalf("copy part %v is not inside a clean range %v", p, clean)
			}
		}
		pos = p.End
	}
	if pos != size {
		t.Fatalf("parts end at %d, object has %d bytes", pos, size)
	}
	if len(parts) > objstore.MaxParts {
		t.Fatalf("%d parts", len(parts))
	}
}

func sent(parts []piece) (n int64) {
	for _, p := range parts {
		if !p.Copy {
			n += p.len()
		}
	}
	return n
}

func TestPlanAppendSendsOnlyTheAppend(t *testing.T) {
	size := int64(256*mib + 1024)
	clean := []stage.Range{{Off: 0, End: 256 * mib}}
	parts := plan(size, clean, 8*mib, 5*mib)
	checkPlan(t, size, clean, parts, 5*mib)
	if got := sent(parts); got != 1024 {
		t.Fatalf("append of 1 KiB to 256 MiB sends %d bytes (plan %v)", got, parts)
	}
}

func TestPlanEditInTheMiddleSendsAboutAPart(t *testing.T) {
	size := int64(100 * mib)
	clean := []stage.Range{{Off: 0, End: 40 * mib}, {Off: 40*mib + 10, End: size}}
	parts := plan(size, clean, 8*mib, 5*mib)
	checkPlan(t, size, clean, parts, 5*mib)
	if got := sent(parts); got != 5*mib {
		t.Fatalf("a 10-byte edit sends %d bytes, want 5 MiB (plan %v)", got, parts)
	}
}

func TestPlanMetadataOnlyCopiesEverything(t *testing.T) {
	size := int64(12 << 30)
	clean := []stage.Range{{Off: 0, End: size}}
	parts := plan(size, clean, 8*mib, 5*mib)
	checkPlan(t, size, clean, parts, 5*mib)
	if sent(parts) != 0 || len(parts) != 3 {
		t.Fatalf("12 GiB unchanged: %d bytes sent in %d parts, want 0 in 3", sent(parts), len(parts))
	}
}

func TestPlanSmallCleanRangesAreSent(t *testing.T) {
	size := int64(20 * mib)
	clean := []stage.Range{{Off: 0, End: 1 * mib}, {Off: 2 * mib, End: 3 * mib}}
	parts := plan(size, clean, 8*mib, 5*mib)
	checkPlan(t, size, clean, parts, 5*mib)
	if sent(parts) != size {
		t.Fatalf("short clean ranges were copied: plan %v", parts)
	}
}

func TestPlanKeepsPartsWithinS3Limits(t *testing.T) {
	// 5 TiB of new data at 8 MiB parts would need 655,360 parts.
	size := int64(5 << 40)
	parts := plan(size, nil, 8*mib, 5*mib)
	checkPlan(t, size, nil, parts, 5*mib)
}

func TestPlanRandomLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 5000; round++ {
		minPart := int64(1 + r.IntN(100))
		partSize := minPart + int64(r.IntN(200))
		size := int64(r.IntN(3000))
		var clean []stage.Range
		for pos := int64(r.IntN(50)); pos < size; {
			end := min(size, pos+1+int64(r.IntN(400)))
			clean = append(clean, stage.Range{Off: pos, End: end})
			pos = end + 1 + int64(r.IntN(300))
		}
		parts := plan(size, clean, partSize, minPart)
		t.Run(fmt.Sprint(round), func(t *testing.T) { checkPlan(t, size, clean, parts, minPart) })
		// Nothing is sent that a neighbour rule does not explain: at most
		// the unclean bytes plus, per unclean or short-clean gap, a part.
		var cleanBytes int64
		for _, c := range clean {
			cleanBytes += c.Len()
		}
		if limit := size - cleanBytes + int64(len(clean)+1)*(2*minPart); sent(parts) > limit {
			t.Fatalf("round %d: sent %d, more than %d (plan %v, clean %v)", round, sent(parts), limit, parts, clean)
		}
	}
}
