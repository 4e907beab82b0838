package fs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fileName is the i-th file of the directories these tests list.
func fileName(i int) string { return fmt.Sprintf("f%02d", i) }

// fileData is its content: small, and different for every file.
func fileData(i int) []byte { return []byte(fmt.Sprintf("content of file %d\n", i)) }

// listedDir makes d with n small files, lists it, and returns its inode.
func (e *env) listedDir(n int) uint64 {
	e.t.Helper()
	for i := range n {
		e.store.PutObject("d/"+fileName(i), fileData(i))
	}
	d := e.mustResolve("d")
	if _, err := e.fs.ReadDir(ctx, d.Ino); err != nil {
		e.t.Fatal(err)
	}
	return d.Ino
}

// cat looks up, opens, reads and closes dir/name, as `cat` does.
func (e *env) cat(dir uint64, name string) ([]byte, error) {
	e.t.Helper()
	a, err := e.fs.Lookup(ctx, dir, name)
	if err != nil {
		return nil, err
	}
	h, err := e.fs.Open(ctx, a.Ino, syscall.O_RDONLY, 1)
	if err != nil {
		return nil, err
	}
	defer e.fs.Release(ctx, h)
	buf := make([]byte, 4096)
	n, err := e.fs.Read(ctx, h, buf, 0)
	return buf[:n], err
}

// settle waits until no fetch ahead is in flight.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.fs.mu.Lock()
		busy := 0
		for _, in := range e.fs.inodes {
			if in.fetching != nil {
				busy++
			}
		}
		e.fs.mu.Unlock()
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d fetches ahead still in flight", busy)
		}
		time.Sleep(time.Millisecond)
	}
}

// fileOps counts the requests about the files of d (keys and prefixes
// "d/f..."), not those of a directory lookup's stat still finishing.
type fileOps struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *env) countFileOps() *fileOps {
	c := &fileOps{n: map[string]int{}}
	e.fault.Inject(func(op, key string) error {
		if strings.HasPrefix(key, "d/f") {
			c.mu.Lock()
			c.n[op]++
			c.n[op+" "+key]++
			c.mu.Unlock()
		}
		return nil
	})
	return c
}

// count returns how many op requests were sent (about one key, if given).
func (c *fileOps) count(op string, key ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(key) > 0 {
		return c.n[op+" "+key[0]]
	}
	return c.n[op]
}

func TestLookupOfAListedFileAfterItsTTLIsOneStat(t *testing.T) {
	e := newEnv(t, nil) // files 100 ms, dirs 1 s
	d := e.listedDir(1)
	e.clock.add(200 * time.Millisecond) // the file's stat expired, the listing did not
	ops := e.countFileOps()
	a, err := e.fs.Lookup(ctx, d, fileName(0))
	if err != nil || a.Size != int64(len(fileData(0))) {
		t.Fatalf("lookup = %+v, %v", a, err)
	}
	if g, l := ops.count("Get"), ops.count("List"); g != 1 || l != 0 {
		t.Fatalf("lookup of a listed file sent %d GETs and %d LISTs, want 1 and 0", g, l)
	}

	e.clock.add(time.Second) // the listing expired too: a full lookup again
	if _, err := e.fs.Lookup(ctx, d, fileName(0)); err != nil {
		t.Fatal(err)
	}
	if ops.count("List") != 1 {
		t.Fatal("lookup after the directory TTL did not LIST name/")
	}
}

func TestAListedFileGoneFromTheBucketIsLookedUpInFull(t *testing.T) {
	e := newEnv(t, nil)
	d := e.listedDir(2)
	e.clock.add(200 * time.Millisecond)
	// f00 became a directory, f01 vanished.
	if err := e.store.Delete(ctx, "d/f00"); err != nil {
		t.Fatal(err)
	}
	e.store.PutObject("d/f00/inner", []byte("x"))
	if err := e.store.Delete(ctx, "d/f01"); err != nil {
		t.Fatal(err)
	}
	a, err := e.fs.Lookup(ctx, d, "f00")
	if err != nil || a.Mode&syscall.S_IFDIR == 0 {
		t.Fatalf("lookup f00 = %+v, %v; want the directory it became", a, err)
	}
	_, err = e.fs.Lookup(ctx, d, "f01")
	wantErrno(t, err, syscall.ENOENT)
}

// Within the directory TTL a listing is trusted as to which names are
// directories (SEMANTICS "Consistency"): a directory that appears beside a
// listed file shows only once the listing has expired.
func TestAListingIsTrustedForTheDirectoryTTL(t *testing.T) {
	e := newEnv(t, nil)
	d := e.listedDir(1)
	e.store.PutObject("d/f00/inner", []byte("x"))
	e.clock.add(200 * time.Millisecond)
	if a, err := e.fs.Lookup(ctx, d, "f00"); err != nil || a.Mode&syscall.S_IFDIR != 0 {
		t.Fatalf("within the directory TTL: lookup f00 = %+v, %v; want the listed file", a, err)
	}
	e.clock.add(time.Second)
	if a, err := e.fs.Lookup(ctx, d, "f00"); err != nil || a.Mode&syscall.S_IFDIR == 0 {
		t.Fatalf("after the directory TTL: lookup f00 = %+v, %v; want the directory", a, err)
	}
}

func TestReadingListedFilesInOrderFetchesTheNextAhead(t *testing.T) {
	e := newEnv(t, nil)
	const n = 20
	d := e.listedDir(n)
	big := pattern(DefaultSmallFileMax + 1) // too large to come back whole: not fetched ahead
	e.store.PutObject("d/"+fileName(n), big)
	if _, err := e.fs.ReadDir(ctx, d); err != nil {
		t.Fatal(err)
	}
	e.clock.add(200 * time.Millisecond) // the listing's stats expired: each file costs a request
	ops := e.countFileOps()
	for i := range n {
		if i == aheadStreak {
			// The opens so far followed the listing: the next files were
			// fetched ahead, so reading them asks nothing more.
			e.settle()
			if got := ops.count("Get"); got != aheadStreak+aheadFiles {
				t.Fatalf("after %d opens in order: %d GETs, want %d", aheadStreak, got, aheadStreak+aheadFiles)
			}
			if got, err := e.cat(d, fileName(i)); err != nil || !bytes.Equal(got, fileData(i)) {
				t.Fatalf("cat %s = %q, %v", fileName(i), got, err)
			}
			if got := ops.count("Get", "d/"+fileName(i)); got != 1 {
				t.Fatalf("%s was fetched ahead, yet %d GETs of it were sent", fileName(i), got)
			}
			e.clock.add(10 * time.Millisecond)
			continue
		}
		if got, err := e.cat(d, fileName(i)); err != nil || !bytes.Equal(got, fileData(i)) {
			t.Fatalf("cat %s = %q, %v", fileName(i), got, err)
		}
		e.clock.add(10 * time.Millisecond)
	}
	e.settle()
	if got := ops.count("Get"); got != n {
		t.Fatalf("%d files read with %d GETs, want one each", n, got)
	}
	if got := ops.count("List") + ops.count("Head"); got != 0 {
		t.Fatalf("%d LISTs or HEADs: a listed file needs its GET alone", got)
	}
}

func TestSlowOrUnorderedOpensFetchNothingAhead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []int
		gap   time.Duration
	}{
		{"in order, but each open after half the file TTL", []int{0, 1, 2, 3, 4, 5, 6, 7}, 60 * time.Millisecond},
		{"quickly, in reverse order", []int{9, 8, 7, 6, 5, 4, 3, 2}, 10 * time.Millisecond},
		{"quickly, every other file", []int{0, 2, 4, 6, 8, 10, 12, 14}, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			d := e.listedDir(16)
			e.clock.add(200 * time.Millisecond)
			ops := e.countFileOps()
			for _, i := range tc.order {
				if got, err := e.cat(d, fileName(i)); err != nil || !bytes.Equal(got, fileData(i)) {
					t.Fatalf("cat %s = %q, %v", fileName(i), got, err)
				}
				e.clock.add(tc.gap)
			}
			e.settle()
			if got := ops.count("Get"); got != len(tc.order) {
				t.Fatalf("%d files read with %d GETs: something was fetched ahead", len(tc.order), got)
			}
		})
	}
}

func TestALookupWaitsForTheFetchAheadOfItsFile(t *testing.T) {
	e := newEnv(t, nil)
	d := e.listedDir(8)
	e.clock.add(200 * time.Millisecond)
	release := make(chan struct{})
	var mu sync.Mutex
	getsOf := map[string]int{}
	e.fault.Inject(func(op, key string) error {
		if op != "Get" {
			return nil
		}
		mu.Lock()
		getsOf[key]++
		mu.Unlock()
		if key == "d/"+fileName(aheadStreak) {
			<-release // hold the fetch ahead of the next file
		}
		return nil
	})
	for i := range aheadStreak {
		if _, err := e.cat(d, fileName(i)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		got, err := e.cat(d, fileName(aheadStreak))
		if err == nil && !bytes.Equal(got, fileData(aheadStreak)) {
			err = fmt.Errorf("read %q", got)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("cat finished (%v) while the fetch ahead of its file was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := getsOf["d/"+fileName(aheadStreak)]; n != 1 {
		t.Fatalf("%d GETs of the file fetched ahead, want 1", n)
	}
}

func TestAFailedFetchAheadLeavesTheLookupToAsk(t *testing.T) {
	e := newEnv(t, nil)
	d := e.listedDir(8)
	e.clock.add(200 * time.Millisecond)
	failed := false
	var mu sync.Mutex
	victim := "d/" + fileName(aheadStreak+1)
	e.fault.Inject(func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "Get" && key == victim && !failed {
			failed = true
			return errors.New("injected: connection reset")
		}
		return nil
	})
	for i := range 8 {
		got, err := e.cat(d, fileName(i))
		if err != nil || !bytes.Equal(got, fileData(i)) {
			t.Fatalf("cat %s = %q, %v", fileName(i), got, err)
		}
		e.settle()
		e.clock.add(10 * time.Millisecond)
	}
	if !failed {
		t.Fatal("the fetch ahead of the victim was never sent")
	}
}

func TestFilesBeingWrittenAreNotFetchedAhead(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOverwrite = true })
	d := e.listedDir(8)
	e.clock.add(200 * time.Millisecond)
	victim := fileName(aheadStreak + 1) // within the window of the last open below
	var mu sync.Mutex
	gets := 0
	e.fault.Inject(func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "Get" && key == "d/"+victim {
			gets++
		}
		return nil
	})
	a, err := e.fs.Lookup(ctx, d, victim)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.fs.Open(ctx, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC, 7)
	if err != nil {
		t.Fatalf("overwrite %s: %v", victim, err)
	}
	defer e.fs.Release(ctx, w)
	mu.Lock()
	gets = 0 // the lookup's own
	mu.Unlock()
	for i := range aheadStreak {
		if _, err := e.cat(d, fileName(i)); err != nil {
			t.Fatal(err)
		}
		e.clock.add(10 * time.Millisecond)
	}
	e.settle()
	mu.Lock()
	defer mu.Unlock()
	if gets != 0 {
		t.Fatalf("the file being written was fetched ahead (%d GETs)", gets)
	}
}

// Directories between the files (cat dir/* does not open them as files) do
// not break the run of opens in listing order.
func TestDirectoriesBetweenFilesKeepTheOrder(t *testing.T) {
	e := newEnv(t, nil)
	for _, name := range []string{"f01a/x", "f02a/x", "f02b/x"} {
		e.store.PutObject("d/"+name, []byte("x"))
	}
	d := e.listedDir(8) // f00 f01 f01a/ f02 f02a/ f02b/ f03 ... f07
	e.clock.add(200 * time.Millisecond)
	ops := e.countFileOps()
	for i := range aheadStreak {
		if _, err := e.cat(d, fileName(i)); err != nil {
			t.Fatal(err)
		}
		e.clock.add(10 * time.Millisecond)
	}
	e.settle()
	// f00-f02 read by their lookups, then f03-f07 fetched ahead (the
	// directories within the window are not files and cost nothing).
	if got := ops.count("Get"); got != 8 {
		t.Fatalf("%d GETs after %d opens in order across directories, want 8", got, aheadStreak)
	}
}

// What a fetch ahead brings is an ordinary stat: trusted for the file TTL
// from its arrival, then asked again.
func TestAFetchedAheadStatLastsTheFileTTL(t *testing.T) {
	e := newEnv(t, nil) // files 100 ms
	d := e.listedDir(8)
	e.clock.add(200 * time.Millisecond)
	ops := e.countFileOps()
	for i := range aheadStreak {
		if _, err := e.cat(d, fileName(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.settle()
	next := "d/" + fileName(aheadStreak)
	if ops.count("Get", next) != 1 {
		t.Fatalf("%s was not fetched ahead", next)
	}
	e.clock.add(90 * time.Millisecond) // still fresh
	if _, err := e.fs.Lookup(ctx, d, fileName(aheadStreak)); err != nil || ops.count("Get", next) != 1 {
		t.Fatalf("lookup within the TTL of the fetched stat: %v, %d GETs", err, ops.count("Get", next))
	}
	e.clock.add(20 * time.Millisecond) // 110 ms after it arrived
	if _, err := e.fs.Lookup(ctx, d, fileName(aheadStreak)); err != nil || ops.count("Get", next) != 2 {
		t.Fatalf("lookup past the TTL of the fetched stat: %v, %d GETs, want a second", err, ops.count("Get", next))
	}
}
