package cli

import (
	"strings"
	"testing"
)

// --posix turns on every part of POSIX mode; the parts have their own flags.
func TestParsePosixFlags(t *testing.T) {
	c := mustParse(t, "b-1", "/mnt", "--posix")
	fs := c.FS
	if !fs.Posix || !fs.AllowEdit || !fs.AllowRename || !fs.AllowDelete || !fs.AllowOverwrite || !c.FUSE.LocalLocks {
		t.Fatalf("--posix: %+v, local locks %v", fs, c.FUSE.LocalLocks)
	}
	c = mustParse(t, "b-1", "/mnt", "--allow-edit", "--cache-dir", "/var/cache/bfs", "--max-cache-size", "512")
	if !c.FS.AllowEdit || !c.FS.AllowOverwrite || c.FS.AllowRename || c.FS.Posix || c.FS.AllowDelete || c.FUSE.LocalLocks {
		t.Fatalf("--allow-edit alone: %+v", c.FS)
	}
	if c.CacheDir != "/var/cache/bfs" || c.MaxCacheSize != 512<<20 {
		t.Fatalf("cache dir %q, max %d", c.CacheDir, c.MaxCacheSize)
	}
	c = mustParse(t, "b-1", "/mnt", "--allow-rename", "--max-rename-keys", "50")
	if !c.FS.AllowRename || c.FS.AllowEdit || c.FS.MaxRenameKeys != 50 {
		t.Fatalf("--allow-rename alone: %+v", c.FS)
	}
	if c := mustParse(t, "b-1", "/mnt"); c.FS.Posix || c.FS.AllowEdit || c.FS.AllowRename {
		t.Fatalf("default mount is not strict: %+v", c.FS)
	}
}

func TestParsePosixErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--posix", "--read-only"}, "--read-only and --posix cannot be used together"},
		{[]string{"--allow-edit", "--read-only"}, "--read-only and --allow-edit cannot be used together"},
		{[]string{"--cache-dir", "/tmp"}, "--cache-dir is where edited files are staged: it needs --posix or --allow-edit"},
		{[]string{"--max-cache-size", "10"}, "--max-cache-size is where edited files are staged"},
		{[]string{"--posix", "--max-cache-size", "0"}, "--max-cache-size"},
		{[]string{"--posix", "--max-rename-keys", "-1"}, "--max-rename-keys"},
		{[]string{"--posix", "--cache-dir", ""}, "--cache-dir"},
	} {
		_, err := ParseMount(append([]string{"b-1", "/mnt"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}
