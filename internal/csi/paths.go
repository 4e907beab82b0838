package csi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errOutside is a target path outside the kubelet directory.
var errOutside = errors.New("outside the kubelet directory")

// resolveTarget checks that target lies inside kubeletDir and returns it
// with symbolic links resolved, so that it matches the mount table and no
// link can lead a mount elsewhere. target's last element is not resolved (it
// may be a broken FUSE mount, and a mount point is never a link); its
// parents are, as far as they exist. Errors wrap errOutside, or are about an
// unreadable parent.
func resolveTarget(kubeletDir, target string) (string, error) {
	if !filepath.IsAbs(target) {
		return "", fmt.Errorf("target path %q is not absolute: %w", target, errOutside)
	}
	clean := filepath.Clean(target)
	if !within(clean, filepath.Clean(kubeletDir)) {
		return "", fmt.Errorf("target path %s is %w %s (--kubelet-dir)", target, errOutside, kubeletDir)
	}
	root, err := resolveExisting(kubeletDir)
	if err != nil {
		return "", fmt.Errorf("kubelet directory %s: %w", kubeletDir, err)
	}
	parent, err := resolveExisting(filepath.Dir(clean))
	if err != nil {
		return "", fmt.Errorf("target path %s: %w", target, err)
	}
	resolved := filepath.Join(parent, filepath.Base(clean))
	if !within(resolved, root) {
		return "", fmt.Errorf("target path %s resolves to %s, %w %s (--kubelet-dir)", target, resolved, errOutside, kubeletDir)
	}
	return resolved, nil
}

// within reports whether p is strictly inside dir (both clean and absolute).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// resolveExisting resolves the links of the longest existing leading part
// of p and appends the rest unchanged.
func resolveExisting(p string) (string, error) {
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// removeTarget deletes the target directory after its unmount. A missing
// one is fine; a non-empty one is left alone (its files are not ours).
func removeTarget(target string) error {
	err := os.Remove(target)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
