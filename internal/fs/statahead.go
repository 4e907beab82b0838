package fs

import (
	"context"
	"errors"

	"github.com/bucketfs/bucketfs/internal/metadata"
	"github.com/bucketfs/bucketfs/internal/objstore"
)

// In POSIX mode a listing's entries carry no attributes (S3 lists no
// metadata), so each one needs a stat of its own: a file's object, a
// directory's marker. Programs that look at every entry (ls -l, rsync,
// find, tar) would pay one round trip per entry, one after the other. So a
// directory stream reads statAhead entries ahead of its caller and sends
// their stats in parallel; the lookups that follow wait for them
// (inode.fetching) instead of asking again.

// statAhead is how many listed entries a POSIX-mode stream stats ahead.
const statAhead = 32

// pull returns the next listed entry: straight from the lister, or in
// POSIX mode through the look-ahead queue.
func (d *DirStream) pull(ctx context.Context) (metadata.Entry, bool, error) {
	if !d.f.cfg.Posix {
		return d.lister.Next(ctx)
	}
	for len(d.ahead) < statAhead && !d.listDone {
		me, ok, err := d.lister.Next(ctx)
		if err != nil {
			if len(d.ahead) > 0 {
				break // hand out what came; the error comes again next time
			}
			return metadata.Entry{}, false, err
		}
		if !ok {
			d.listDone = true
			break
		}
		d.ahead = append(d.ahead, me)
		if !me.Local {
			d.f.mu.Lock()
			d.f.statAheadLocked(d.dir, me)
			d.f.mu.Unlock()
		}
	}
	if len(d.ahead) == 0 {
		return metadata.Entry{}, false, nil
	}
	me := d.ahead[0]
	d.ahead = d.ahead[1:]
	return me, true, nil
}

// statAheadLocked records a listed entry and, when its attributes are not
// known, fetches them in the background. REQUIRES(f.mu)
func (f *FS) statAheadLocked(dir *inode, me metadata.Entry) {
	if c := f.childLocked(dir, me.Name); c != nil && (c.pending() || c.fetching != nil) {
		return
	}
	in := f.upsertLocked(dir, me, true)
	if in.metaKnown || in.fetching != nil {
		return
	}
	done := make(chan struct{})
	in.fetching = done
	key, name, kind := in.key, in.name, in.kind
	go func() {
		ctx := context.Background()
		var e metadata.Entry
		var err error
		if kind == metadata.Dir {
			e = metadata.Entry{Name: name, Kind: metadata.Dir}
			var info objstore.ObjectInfo
			info, err = f.client.Head(ctx, key)
			switch {
			case err == nil:
				e.ETag, e.Meta, e.Mtime = info.ETag, info.Metadata, info.LastModified
			case errors.Is(err, objstore.ErrNotFound):
				err = nil // no marker: default attributes
			}
		} else {
			e, err = metadata.StatFile(ctx, f.client, dir.key, name, f.statMax())
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		in.fetching = nil
		close(done)
		if err != nil {
			// Left unknown: the entry's own lookup asks again.
			f.log.Debug("stat ahead of a listing failed", "key", key, "error", err)
			return
		}
		if _, err := f.applyEntryLocked(dir, name, e, nil); err != nil {
			f.log.Debug("stat ahead of a listing failed", "key", key, "error", err)
		}
	}()
}
