package stage

import "sort"

// Range is the byte range [Off, End).
type Range struct{ Off, End int64 }

// Len is the number of bytes in r.
func (r Range) Len() int64 { return r.End - r.Off }

// ranges is a set of bytes: sorted, disjoint, non-adjacent, non-empty ranges.
type ranges []Range

// add puts [off, end) into the set.
func (s ranges) add(off, end int64) ranges {
	if off >= end {
		return s
	}
	// First range that ends at or after off (it may touch or overlap).
	i := sort.Search(len(s), func(i int) bool { return s[i].End >= off })
	j := i
	for j < len(s) && s[j].Off <= end {
		off = min(off, s[j].Off)
		end = max(end, s[j].End)
		j++
	}
	out := append(s[:i:i], Range{off, end})
	return append(out, s[j:]...)
}

// remove takes [off, end) out of the set.
func (s ranges) remove(off, end int64) ranges {
	if off >= end {
		return s
	}
	var out ranges
	for _, r := range s {
		if r.End <= off || r.Off >= end {
			out = append(out, r)
			continue
		}
		if r.Off < off {
			out = append(out, Range{r.Off, off})
		}
		if r.End > end {
			out = append(out, Range{end, r.End})
		}
	}
	return out
}

// missing returns the parts of [off, end) that are not in the set, in order.
func (s ranges) missing(off, end int64) []Range {
	var out []Range
	i := sort.Search(len(s), func(i int) bool { return s[i].End > off })
	for ; off < end && i < len(s) && s[i].Off < end; i++ {
		if s[i].Off > off {
			out = append(out, Range{off, s[i].Off})
		}
		off = max(off, s[i].End)
	}
	if off < end {
		out = append(out, Range{off, end})
	}
	return out
}

// covers reports whether every byte of [off, end) is in the set.
func (s ranges) covers(off, end int64) bool { return len(s.missing(off, end)) == 0 }

// total is the number of bytes in the set.
func (s ranges) total() int64 {
	var n int64
	for _, r := range s {
		n += r.Len()
	}
	return n
}

// within returns the set's bytes inside [off, end).
func (s ranges) within(off, end int64) int64 {
	var n int64
	for _, r := range s {
		if a, b := max(r.Off, off), min(r.End, end); a < b {
			n += b - a
		}
	}
	return n
}
