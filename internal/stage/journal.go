package stage

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A mount killed while a commit's multipart upload is open leaves the upload
// on the server (its parts cost storage until a lifecycle rule reclaims
// them). Each Dir keeps a journal of the uploads its mount has open; the
// next mount that finds the Dir stale (Open) reports them as Orphans, and
// the mount aborts those of its bucket.

const journalName = "uploads"

// Upload is a multipart upload a journal recorded.
type Upload struct{ Bucket, Key, UploadID string }

// Orphans are the uploads left open by dead mounts whose staging
// directories Open removed.
func (d *Dir) Orphans() []Upload { return d.orphans }

// Track records an upload being open until done is called. A journal that
// cannot be written only loses the clean-up after a crash.
func (d *Dir) Track(bucket, key, uploadID string) (done func()) {
	d.journal("open", bucket, key, uploadID)
	return func() { d.journal("done", bucket, key, uploadID) }
}

func (d *Dir) journal(what, bucket, key, uploadID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(d.root, journalName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// Keys may hold any byte but NUL; %q keeps each record on one line.
	fmt.Fprintf(f, "%s %q %q %q\n", what, bucket, key, uploadID)
	f.Sync()
}

// readJournal returns the uploads dir's journal opened and never closed.
func readJournal(dir string) []Upload {
	f, err := os.Open(filepath.Join(dir, journalName))
	if err != nil {
		return nil
	}
	defer f.Close()
	open := map[Upload]bool{}
	var order []Upload
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var what string
		var u Upload
		if _, err := fmt.Sscanf(sc.Text(), "%s %q %q %q", &what, &u.Bucket, &u.Key, &u.UploadID); err != nil {
			continue // a record cut short by the crash
		}
		switch strings.TrimSpace(what) {
		case "open":
			if !open[u] {
				order = append(order, u)
			}
			open[u] = true
		case "done":
			delete(open, u)
		}
	}
	var out []Upload
	for _, u := range order {
		if open[u] {
			out = append(out, u)
		}
	}
	return out
}
