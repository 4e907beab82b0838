package upload

import (
	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/stage"
)

// maxPartSize is S3's largest part, uploaded or copied.
const maxPartSize = 5 << 30

// piece is one part of a commit: bytes [Off, End) of the new object, either
// copied on the server from the base at the same offsets (copy) or sent
// from the local copy.
type piece struct {
	Off, End int64
	Copy     bool
}

func (p piece) len() int64 { return p.End - p.Off }

// plan splits a new object of size bytes into parts, copying from the base
// the clean ranges that are long enough to be parts of their own, and
// sending the rest. S3's rules shape it: every part but the last has at
// least minPart bytes and at most 5 GiB; at most 10,000 parts. A data
// piece shorter than minPart that is not last borrows bytes from the copy
// piece after it (they are sent instead of copied), or swallows it when
// what remains could not stand alone. So an edit in the middle of a large
// object sends about minPart bytes around it, and an append sends only
// what was appended.
func plan(size int64, clean []stage.Range, partSize, minPart int64) []piece {
	if size == 0 {
		return nil
	}
	partSize = max(partSize, minPart)
	var segs []piece
	pos := int64(0)
	for _, c := range clean {
		c.End = min(c.End, size)
		if c.Off >= c.End || (c.Len() < minPart && c.End != size) {
			continue // too short to be a part: sent with its neighbours
		}
		if c.Off > pos {
			segs = appendSeg(segs, piece{pos, c.Off, false})
		}
		segs = appendSeg(segs, piece{c.Off, c.End, true})
		pos = c.End
	}
	if pos < size {
		segs = appendSeg(segs, piece{pos, size, false})
	}
	segs = fixShortData(segs, minPart)

	for {
		parts := splitSegs(segs, partSize, minPart)
		if len(parts) <= objstore.MaxParts {
			return parts
		}
		partSize *= 2
	}
}

// appendSeg appends p, merging it into the last segment when both send data.
func appendSeg(segs []piece, p piece) []piece {
	if n := len(segs); n > 0 && !segs[n-1].Copy && !p.Copy && segs[n-1].End == p.Off {
		segs[n-1].End = p.End
		return segs
	}
	return append(segs, p)
}

// fixShortData makes every data segment but the last at least minPart long.
func fixShortData(segs []piece, minPart int64) []piece {
	var out []piece
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		if s.Copy || s.len() >= minPart || i == len(segs)-1 {
			out = appendSeg(out, s)
			continue
		}
		// s sends data and is short; the next segment copies.
		next := &segs[i+1]
		need := minPart - s.len()
		if next.len()-need >= minPart || (i+1 == len(segs)-1 && next.len() > need) {
			s.End += need
			next.Off += need
			out = appendSeg(out, s)
			continue
		}
		// Too little would be left to copy: send it all, and look again
		// at the merged segment with what follows.
		s.End = next.End
		segs[i+1] = s
	}
	return out
}

// splitSegs turns segments into parts of S3's sizes.
func splitSegs(segs []piece, partSize, minPart int64) []piece {
	var parts []piece
	for _, s := range segs {
		var n int64
		if s.Copy {
			n = (s.len() + maxPartSize - 1) / maxPartSize
		} else {
			n = max(s.len()/partSize, 1)
			if s.len()/n > maxPartSize {
				n = (s.len() + maxPartSize - 1) / maxPartSize
			}
		}
		for k := int64(0); k < n; k++ {
			parts = append(parts, piece{s.Off + s.len()*k/n, s.Off + s.len()*(k+1)/n, s.Copy})
		}
	}
	return parts
}
