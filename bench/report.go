package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// cell collects the repeats of one job on one tool (or raw).
type cell struct {
	samples []sample
	errs    []string
}

func (c *cell) add(s sample, err error) {
	if err != nil {
		c.errs = append(c.errs, err.Error())
		return
	}
	c.samples = append(c.samples, s)
}

// metric turns a sample into the number reported.
type metric struct {
	unit   string
	higher bool // higher is better (throughput) or lower (time, memory)
	val    func(sample) float64
}

var (
	mibps   = metric{"MiB/s", true, func(s sample) float64 { return float64(s.bytes) / s.secs / (1 << 20) }}
	iops    = metric{"IOPS", true, func(s sample) float64 { return float64(s.ops) / s.secs }}
	seconds = metric{"s", false, func(s sample) float64 { return s.secs }}
	millis  = metric{"ms", false, func(s sample) float64 { return s.secs * 1000 }}
	cpuSecs = metric{"CPU s", false, func(s sample) float64 { return s.cpu }}
	srvCPU  = metric{"CPU s", false, func(s sample) float64 { return s.srvCPU }}
	cliCPU  = metric{"CPU s", false, func(s sample) float64 { return s.clientCPU }}
	othCPU  = metric{"CPU s", false, func(s sample) float64 { return s.otherCPU }}
	rssMiB  = metric{"MiB", false, func(s sample) float64 { return float64(s.rss) / (1 << 20) }}
	movedMB = metric{"MiB moved", false, func(s sample) float64 { return float64(s.moved) / (1 << 20) }}
)

// stats is median, min and max of a cell under a metric; ok is false when no
// repeat succeeded.
type stats struct {
	med, lo, hi float64
	n           int
	ok          bool
}

func (c *cell) stats(m metric) stats {
	if c == nil || len(c.samples) == 0 {
		return stats{}
	}
	v := make([]float64, len(c.samples))
	for i, s := range c.samples {
		v[i] = m.val(s)
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stats{med: med, lo: v[0], hi: v[len(v)-1], n: len(v), ok: true}
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// show formats a cell: "median (min–max)", a dagger when some repeats
// failed, or the error when all did.
func (c *cell) show(m metric) string {
	if c == nil {
		return "—"
	}
	st := c.stats(m)
	if !st.ok {
		if len(c.errs) > 0 {
			return "error: " + mdEscape(shorten(c.errs[0], 60))
		}
		return "—"
	}
	s := num(st.med)
	if st.n > 1 {
		s += fmt.Sprintf(" (%s–%s)", num(st.lo), num(st.hi))
	}
	if len(c.errs) > 0 {
		s += " †"
	}
	return s
}

func ratio(a, b stats) (float64, bool) {
	if !a.ok || !b.ok || b.med == 0 {
		return 0, false
	}
	return a.med / b.med, true
}

func showRatio(a, b stats) string {
	if r, ok := ratio(a, b); ok {
		return fmt.Sprintf("%.2f×", r)
	}
	return "—"
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// results of the whole run.
type results struct {
	raw   map[string]*cell            // raw job id → cell
	fs    map[string]map[string]*cell // mount job id → tool → cell
	tools []string                    // tools in the run, in order
	// memTargetMiB is bucketfs's --memory-target in the run (its default
	// unless -bucketfs-flags sets one): the process must stay within it.
	memTargetMiB float64
}

func (r *results) fsCell(job, tool string) *cell {
	if r.fs[job] == nil {
		return nil
	}
	return r.fs[job][tool]
}

// row of the comparison table.
type row struct {
	label  string
	job    string
	m      metric
	raw    func(r *results) (stats, string)  // raw reference and its name
	target func(r *results) (string, string) // description, verdict
}

// bestRaw is the best of several raw jobs under m.
func bestRaw(m metric, ids ...string) func(r *results) (stats, string) {
	return func(r *results) (stats, string) {
		var best stats
		name := ""
		for _, id := range ids {
			st := r.raw[id].stats(m)
			if st.ok && (!best.ok || (m.higher && st.med > best.med) || (!m.higher && st.med < best.med)) {
				best, name = st, id
			}
		}
		return best, name
	}
}

// readCeiling compares fuse0r, a FUSE file system reading what it already
// has in memory through the page cache, with get8: no reader through FUSE
// and the page cache, which must also fetch the bytes, can do much better.
func readCeiling(r *results) string {
	c, f := r.raw["get8"].stats(mibps), r.raw["fuse0r"].stats(mibps)
	if !c.ok || !f.ok {
		return ""
	}
	return fmt.Sprintf("Read ceiling: through FUSE and the page cache, with no S3 at all, a 1 MiB dd reads at "+
		"%s MiB/s (fuse0r, median), %.2f × get8: a FUSE reader that must also fetch the bytes stays below that.",
		num(f.med), f.med/c.med)
}

// writeFloor estimates the most a FUSE writer could upload at here, sending
// mpu8's requests (64 MiB in flight: what fits in bucketfs's default memory
// target) or mpuN's (1 GiB in flight, the cheapest for the server): the CPU
// per GiB of mpu8c or mpuNc (MinIO's and the client's for those requests,
// checksums computed beforehand) plus fuse0's (FUSE handing the bytes over,
// their checksums computed as they come), spent on all of the machine's
// cores.
func writeFloor(r *results, cores int) string {
	best, id := bestRaw(mibps, "put", "mpu8", "mpuN")(r)
	f := r.raw["fuse0"].stats(cliCPU)
	if !best.ok || !f.ok {
		return ""
	}
	var parts []string
	for _, p := range []struct{ job, pattern string }{{"mpu8c", "mpu8's"}, {"mpuNc", "mpuN's"}} {
		c := r.raw[p.job]
		if !c.stats(cliCPU).ok {
			continue
		}
		gib := float64(c.samples[0].bytes) / (1 << 30)
		perGiB := (c.stats(srvCPU).med + c.stats(cliCPU).med + f.med) / gib
		most := float64(cores) / perGiB * 1024
		parts = append(parts, fmt.Sprintf("sending %s requests, %.2f core-seconds per GiB (%s's MinIO and client "+
			"CPU plus fuse0's), so at most %.0f MiB/s, %.2f × %s", p.pattern, perGiB, p.job, most, most/best.med, id))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Write floor, using all %d cores for nothing else: a FUSE writer %s.", cores,
		strings.Join(parts, "; "))
}

// verdict turns conditions into yes / NO / n/a (a number is missing).
func verdict(conds ...func() (bool, bool)) string {
	for _, c := range conds {
		holds, known := c()
		if !known {
			return "n/a"
		}
		if !holds {
			return "**NO**"
		}
	}
	return "yes"
}

// atLeast: bucketfs(job) ≥ k × ref, as medians.
func atLeast(bfs, ref stats, k float64) func() (bool, bool) {
	return func() (bool, bool) {
		r, ok := ratio(bfs, ref)
		return r >= k, ok
	}
}

func atMost(bfs, ref stats, k float64) func() (bool, bool) {
	return func() (bool, bool) {
		r, ok := ratio(bfs, ref)
		return r <= k, ok
	}
}

func comparisonRows() []row {
	bfs := func(r *results, job string, m metric) stats { return r.fsCell(job, "bucketfs").stats(m) }
	s3fs := func(r *results, job string, m metric) stats { return r.fsCell(job, "s3fs").stats(m) }
	return append([]row{
		{"sequential read, 1 reader", "seq1", mibps, bestRaw(mibps, "get8"), func(r *results) (string, string) {
			raw := r.raw["get8"].stats(mibps)
			return "≥ 0.9 × raw get8 and ≥ 2 × s3fs", verdict(atLeast(bfs(r, "seq1", mibps), raw, 0.9),
				atLeast(bfs(r, "seq1", mibps), s3fs(r, "seq1", mibps), 2))
		}},
		{"sequential read, 4 readers of 4 objects (aggregate)", "seq4", mibps, bestRaw(mibps, "getc4"),
			func(r *results) (string, string) {
				return "≥ 0.9 × raw getc4 and ≥ 1.5 × bucketfs seq1", verdict(
					atLeast(bfs(r, "seq4", mibps), r.raw["getc4"].stats(mibps), 0.9),
					atLeast(bfs(r, "seq4", mibps), bfs(r, "seq1", mibps), 1.5))
			}},
		{"sequential read, 8 readers of 8 objects (aggregate)", "seq8", mibps, bestRaw(mibps, "getc8"), notBelowSeq4("seq8")},
		{"sequential read, 16 readers of 16 objects (aggregate)", "seq16", mibps, bestRaw(mibps, "getc16"), notBelowSeq4("seq16")},
		{"sequential read, 4 readers of one object (aggregate)", "seq4one", mibps, bestRaw(mibps, "get8"),
			func(r *results) (string, string) {
				return "≥ 0.9 × raw get8", verdict(atLeast(bfs(r, "seq4one", mibps), r.raw["get8"].stats(mibps), 0.9))
			}},
		{"random 256 KiB reads", "rand", mibps, bestRaw(mibps, "rand"), nil},
		{"random 256 KiB reads", "rand", iops, bestRaw(iops, "rand"), nil},
		{"sequential write, through close", "write", mibps, bestRaw(mibps, "put", "mpu8", "mpuN"),
			func(r *results) (string, string) {
				best, _ := bestRaw(mibps, "put", "mpu8", "mpuN")(r)
				return "≥ 0.9 × best raw upload", verdict(atLeast(bfs(r, "write", mibps), best, 0.9))
			}},
		{"time to first byte, fresh mount", "ttfb", millis, bestRaw(millis, "ttfb"), nil},
		{"ls -f of 10,000 entries", "ls", seconds, bestRaw(seconds, "list"), func(r *results) (string, string) {
			return "≤ 1.2 × raw LIST paging", verdict(atMost(bfs(r, "ls", seconds), r.raw["list"].stats(seconds), 1.2))
		}},
		{"cat of 1,000 × 4 KiB files", "cat", seconds, bestRaw(seconds, "small"), func(r *results) (string, string) {
			return "≤ 0.5 × s3fs", verdict(atMost(bfs(r, "cat", seconds), s3fs(r, "cat", seconds), 0.5))
		}},
		peakRSSRow("4 readers of 4 objects", "seq4"), peakRSSRow("8 readers of 8 objects", "seq8"),
		peakRSSRow("16 readers of 16 objects", "seq16"), peakRSSRow("4 readers of one object", "seq4one"),
	}, posixRows()...)
}

// notBelowSeq4: more readers of more objects read together at least as fast
// as four do.
func notBelowSeq4(job string) func(r *results) (string, string) {
	return func(r *results) (string, string) {
		b := func(j string) stats { return r.fsCell(j, "bucketfs").stats(mibps) }
		return "≥ bucketfs seq4", verdict(atLeast(b(job), b("seq4"), 1))
	}
}

// peakRSSRow: the file system's process stays within --memory-target in
// every repeat of job.
func peakRSSRow(what, job string) row {
	return row{"peak RSS, " + what, job, rssMiB, nil, func(r *results) (string, string) {
		return fmt.Sprintf("never above --memory-target (%.0f MiB)", r.memTargetMiB), verdict(func() (bool, bool) {
			st := r.fsCell(job, "bucketfs").stats(rssMiB)
			return st.hi <= r.memTargetMiB, st.ok
		})
	}}
}

// comparisonTable is the main markdown table: absolute numbers (median,
// min–max), the ratios bucketfs / raw and bucketfs / peer, and the targets.
func comparisonTable(r *results) string {
	var b strings.Builder
	hdr := []string{"job", "unit", "raw S3 (reference)"}
	hdr = append(hdr, r.tools...)
	for _, t := range append([]string{"raw"}, r.tools...) {
		if t != "bucketfs" {
			hdr = append(hdr, "bucketfs / "+t)
		}
	}
	hdr = append(hdr, "target", "holds")
	tableHeader(&b, hdr)
	for _, rw := range comparisonRows() {
		if r.fs[rw.job] == nil {
			continue
		}
		line := []string{rw.label, rw.m.unit}
		var rawSt stats
		if rw.raw != nil {
			var id string
			rawSt, id = rw.raw(r)
			if id == "" {
				line = append(line, "—")
			} else {
				line = append(line, r.raw[id].show(rw.m)+" ("+id+")")
			}
		} else {
			line = append(line, "—")
		}
		for _, t := range r.tools {
			line = append(line, r.fsCell(rw.job, t).show(rw.m))
		}
		bst := r.fsCell(rw.job, "bucketfs").stats(rw.m)
		line = append(line, showRatio(bst, rawSt))
		for _, t := range r.tools {
			if t != "bucketfs" {
				line = append(line, showRatio(bst, r.fsCell(rw.job, t).stats(rw.m)))
			}
		}
		if rw.target != nil {
			desc, v := rw.target(r)
			line = append(line, desc, v)
		} else {
			line = append(line, "", "")
		}
		tableRow(&b, line)
	}
	return b.String()
}

// rawTable lists every raw job.
func rawTable(r *results, jobs []rawJob) string {
	var b strings.Builder
	tableHeader(&b, []string{"id", "raw S3 job (internal/objstore/s3)", "result", "unit", "client CPU s",
		"MinIO CPU s", "other processes' CPU s"})
	for _, j := range jobs {
		c := r.raw[j.id]
		if c == nil {
			continue
		}
		m := mibps
		switch j.id {
		case "ttfb":
			m = millis
		case "list", "small", "lookup", "append", "sed", "rename", "put1k", "putdb":
			m = seconds
		}
		tableRow(&b, []string{j.id, j.name, c.show(m), m.unit, c.show(cliCPU), c.show(srvCPU), c.show(othCPU)})
		if j.id == "rand" || j.id == "small" || j.id == "lookup" {
			tableRow(&b, []string{j.id, "", c.show(iops), "ops/s", "", "", ""})
		}
		if isPosixJob(j.id) {
			tableRow(&b, []string{j.id, "", c.show(movedMB), movedMB.unit, "", "", ""})
		}
	}
	return b.String()
}

// resourceTable: per job and file system, the wall time, the CPU seconds
// and peak RSS of the file system's process, and the CPU seconds of MinIO,
// of the job's commands and of every other process meanwhile.
func resourceTable(r *results, jobs []mountJob) string {
	var b strings.Builder
	tableHeader(&b, []string{"job", "file system", "wall s", "FS process CPU s", "FS peak RSS MiB",
		"MinIO CPU s", "commands' CPU s", "other processes' CPU s"})
	for _, j := range jobs {
		if r.fs[j.id] == nil {
			continue
		}
		for _, t := range r.tools {
			c := r.fsCell(j.id, t)
			if st := c.stats(cpuSecs); !st.ok {
				tableRow(&b, []string{j.id, t, "error", "", "", "", "", ""})
				continue
			}
			tableRow(&b, []string{j.id, t, c.show(seconds), c.show(cpuSecs), c.show(rssMiB), c.show(srvCPU),
				c.show(cliCPU), c.show(othCPU)})
		}
	}
	return b.String()
}

// errorList lists every failed repeat and every note.
func errorList(r *results) string {
	var b strings.Builder
	add := func(where string, c *cell) {
		if c == nil {
			return
		}
		seen := map[string]int{}
		for _, e := range c.errs {
			seen[e]++
		}
		for _, e := range c.errs {
			if n := seen[e]; n > 0 {
				times := ""
				if n > 1 {
					times = fmt.Sprintf(" (%d repeats)", n)
				}
				fmt.Fprintf(&b, "- %s%s: %s\n", where, times, mdEscape(shorten(e, 400)))
				seen[e] = 0
			}
		}
		for i, s := range c.samples {
			if s.note != "" {
				fmt.Fprintf(&b, "- %s (repeat %d): %s\n", where, i+1, s.note)
			}
		}
	}
	for _, j := range rawJobs() {
		add("raw "+j.id, r.raw[j.id])
	}
	for _, j := range jobOrder {
		for _, t := range r.tools {
			add(t+" "+j, r.fsCell(j, t))
		}
	}
	return b.String()
}

func tableHeader(b *strings.Builder, cols []string) {
	tableRow(b, cols)
	seps := make([]string, len(cols))
	for i := range seps {
		seps[i] = "---"
	}
	tableRow(b, seps)
}

func tableRow(b *strings.Builder, cols []string) {
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
}

// human formats a byte count as KiB/MiB/GiB when exact.
func human(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return fmt.Sprintf("%d%s", n/u.v, u.s)
		}
	}
	return fmt.Sprintf("%dB", n)
}
