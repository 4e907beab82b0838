package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
)

// The scale benchmark (make bench-scale, -scale N,N,...): find and ls -lR
// of a tree of N empty objects, spread over directories of scalePerDir
// keys, against raw LIST paging of the same tree, with the file system's
// peak RSS during the walk and its RSS at the end: the growth curve of the
// inode table and the listings.

const scalePerDir = 1000

// scaleResult is one size's measurements.
type scaleResult struct {
	keys     int
	seedSecs float64
	raw      sample            // LIST paging of the tree
	walks    map[string]sample // "find", "ls -lR": secs, rss (peak); ops = RSS at the end
	errs     []string
}

func scaleRoot(n int) string { return fmt.Sprintf("scale%d", n) }

// seedScale PUTs n empty objects, scalePerDir per directory, in parallel.
func seedScale(ctx context.Context, c objstore.Client, n int) error {
	root := scaleRoot(n)
	return parallel(ctx, n, 64, func(ctx context.Context, i int) error {
		_, err := c.Put(ctx, objstore.PutInput{Key: fmt.Sprintf("%s/d%04d/f%04d", root, i/scalePerDir, i%scalePerDir)})
		return err
	})
}

// rawWalk lists the tree as find walks it: each directory with delimiter
// "/", page by page, one request at a time.
func rawWalk(ctx context.Context, c objstore.Client, n int) (sample, error) {
	start := time.Now()
	entries, pages := int64(0), int64(0)
	dirs := []string{scaleRoot(n) + "/"}
	for len(dirs) > 0 {
		dir := dirs[0]
		dirs = dirs[1:]
		in := objstore.ListInput{Prefix: dir, Delimiter: "/"}
		for {
			out, err := c.List(ctx, in)
			if err != nil {
				return sample{}, err
			}
			pages++
			entries += int64(len(out.Objects) + len(out.CommonPrefixes))
			dirs = append(dirs, out.CommonPrefixes...)
			if out.NextContinuationToken == "" {
				break
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	}
	s := sample{secs: time.Since(start).Seconds(), ops: pages}
	if want := int64(n + (n+scalePerDir-1)/scalePerDir); entries != want {
		return s, fmt.Errorf("listed %d entries, want %d", entries, want)
	}
	return s, nil
}

// scaleWalks are the commands timed through the mount; each prints one
// line per entry (find also the root).
var scaleWalks = []struct{ name, cmd string }{
	{"find", "find %s | wc -l"},
	{"ls -lR", "ls -lR %s | wc -l"},
}

// walkScale runs one walk through a fresh bucketfs mount and reads the
// process's peak RSS during it and its RSS once it is over.
func walkScale(ctx context.Context, t *tool, dir, root, cmdline string) (sample, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sample{}, err
	}
	_ = dropCaches()
	mt, err := mountFresh(ctx, t, dir, "scale")
	if err != nil {
		return sample{}, err
	}
	defer mt.unmount()
	_ = resetPeakRSS(mt.pid)
	r, err := run(ctx, cmdSpec{name: "sh", args: []string{"-c", fmt.Sprintf(cmdline, filepath.Join(dir, root))},
		timeout: 30 * time.Minute})
	s := sample{secs: r.elapsed.Seconds()}
	if err != nil {
		return s, err
	}
	s.rss, err = peakRSS(mt.pid)
	if kb, perr := strconv.ParseInt(strings.TrimSuffix(procField(fmt.Sprintf("/proc/%d/status", mt.pid), "VmRSS"), " kB"), 10, 64); perr == nil {
		s.ops = kb << 10 // RSS at the end
	}
	s.note = strings.TrimSpace(r.stdout) + " lines"
	return s, err
}

// scaleBenchmark seeds and walks each size in turn.
func scaleBenchmark(ctx context.Context, c objstore.Client, t *tool, work string, sizes []int) []scaleResult {
	var out []scaleResult
	for _, n := range sizes {
		res := scaleResult{keys: n, walks: map[string]sample{}}
		t0 := time.Now()
		if err := seedScale(ctx, c, n); err != nil {
			res.errs = append(res.errs, "seeding: "+err.Error())
			out = append(out, res)
			continue
		}
		res.seedSecs = time.Since(t0).Seconds()
		logf("scale %d: seeded in %.1fs", n, res.seedSecs)
		var err error
		_ = dropCaches()
		if res.raw, err = rawWalk(ctx, c, n); err != nil {
			res.errs = append(res.errs, "raw LIST: "+err.Error())
		}
		logf("scale %d: raw LIST %s", n, describe(res.raw, err))
		for _, w := range scaleWalks {
			s, err := walkScale(ctx, t, filepath.Join(work, "mnt-scale"), scaleRoot(n), w.cmd)
			if err != nil {
				res.errs = append(res.errs, w.name+": "+err.Error())
			}
			res.walks[w.name] = s
			logf("scale %d: %s %s", n, w.name, describe(s, err))
		}
		out = append(out, res)
	}
	return out
}

// scaleTable is the markdown of the scale benchmark, for its section of
// docs/BENCHMARKS.md.
func scaleTable(results []scaleResult, targetMiB float64) string {
	var b strings.Builder
	tableHeader(&b, []string{"keys", "seeded in s", "raw LIST paging s (pages)", "walk", "wall s", "× raw LIST",
		"peak RSS MiB", "RSS at the end MiB", "target: ≤ 1.5 × raw, RSS ≤ --memory-target", "holds"})
	for _, r := range results {
		for _, w := range scaleWalks {
			s, ok := r.walks[w.name]
			if !ok || s.secs == 0 {
				continue
			}
			ratio := s.secs / r.raw.secs
			peak, end := float64(s.rss)/(1<<20), float64(s.ops)/(1<<20)
			holds := "yes"
			if ratio > 1.5 || peak > targetMiB {
				holds = "**NO**"
			}
			tableRow(&b, []string{strconv.Itoa(r.keys), fmt.Sprintf("%.0f", r.seedSecs),
				fmt.Sprintf("%s (%d)", num(r.raw.secs), r.raw.ops), "`" + w.name + "`", num(s.secs),
				fmt.Sprintf("%.2f×", ratio), num(peak), num(end), fmt.Sprintf("%.0f MiB", targetMiB), holds})
		}
	}
	for _, r := range results {
		for _, e := range r.errs {
			fmt.Fprintf(&b, "\n- %d keys: %s", r.keys, mdEscape(shorten(e, 300)))
		}
	}
	return b.String()
}

// Markers of the scale section in docs/BENCHMARKS.md: make bench keeps it
// as it is, make bench-scale replaces it.
const (
	scaleBegin = "<!-- bench-scale: begin -->"
	scaleEnd   = "<!-- bench-scale: end -->"
)

// scaleSection is the section between the markers in the file at path ("" if none).
func scaleSection(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return scaleSectionOf(string(b))
}

// withScaleSection puts section into md, replacing the one it has or at the end.
func withScaleSection(md, section string) string {
	if section == "" {
		return md
	}
	if old := scaleSectionOf(md); old != "" {
		return strings.Replace(md, old, section, 1)
	}
	return strings.TrimRight(md, "\n") + "\n\n" + section + "\n"
}

func scaleSectionOf(md string) string {
	i, j := strings.Index(md, scaleBegin), strings.Index(md, scaleEnd)
	if i < 0 || j < i {
		return ""
	}
	return md[i : j+len(scaleEnd)]
}

// scaleMarkdown is the whole section for a run.
func scaleMarkdown(results []scaleResult, targetMiB float64, info string) string {
	var b strings.Builder
	b.WriteString(scaleBegin + "\n## Scale: walking a large tree (make bench-scale)\n\n")
	fmt.Fprintf(&b, "%s Each size is a tree of empty objects, %d per directory, seeded by parallel PUTs; "+
		"each walk runs on a fresh mount after the kernel's caches were dropped (bucketfs default flags but the "+
		"endpoint). Raw LIST paging lists the same tree as `find` walks it, one ListObjectsV2 request at a time "+
		"with delimiter `/`. Peak RSS is VmHWM during the walk (reset when it starts), RSS at the end VmRSS when "+
		"it is over.\n\n", info, scalePerDir)
	b.WriteString(scaleTable(results, targetMiB))
	b.WriteString("\n" + scaleEnd)
	return b.String()
}

// scaleRun is the whole scale benchmark: bucketfs only, each size seeded
// in turn (into the same bucket), the section written into o.out.
func scaleRun(ctx context.Context, o options, m *minio, c objstore.Client, work, bucketfsBin string, buildErr error, rep *report) error {
	menv := &mountEnv{m: m, bucket: bucket, work: work, bucketfsBin: bucketfsBin,
		bucketfsArgs: strings.Fields(o.bucketfsFlags), buildErr: buildErr}
	if err := menv.writeCredentialFiles(); err != nil {
		return err
	}
	started := time.Now()
	results := scaleBenchmark(ctx, c, menv.tools()["bucketfs"], work, o.scale)
	info := fmt.Sprintf("Generated by `make bench-scale` (`go run ./bench -scale %s`) on %s, in %.1f min, on the "+
		"machine of the tables above (nproc %s, memory %s; load average at the start %s).", joinInts(o.scale),
		started.UTC().Format("2006-01-02 15:04 UTC"), time.Since(started).Minutes(), rep.info[0][1], memTotal(), rep.load0)
	section := scaleMarkdown(results, memTargetMiB(o.bucketfsFlags), info)
	fmt.Println(section)
	if o.out == "" {
		return nil
	}
	old, _ := os.ReadFile(o.out)
	if err := os.WriteFile(o.out, []byte(withScaleSection(string(old), section)), 0o644); err != nil {
		return err
	}
	logf("wrote the scale section of %s", o.out)
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
