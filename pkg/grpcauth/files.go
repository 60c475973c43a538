package grpcauth

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// watched is the value parsed from a set of files, parsed again when one of
// them changes (modification time, or size: a Kubernetes Secret
// update swaps a symlink, cert-manager rewrites the files). A change that
// does not parse (a certificate written before its key) keeps the last good
// value and is tried again on the next call.
type watched[T any] struct {
	paths []string
	parse func(contents [][]byte) (T, error)

	mu     sync.Mutex
	stamp  string
	val    T
	loaded bool
}

func newWatched[T any](parse func([][]byte) (T, error), paths ...string) *watched[T] {
	return &watched[T]{paths: paths, parse: parse}
}

// get returns the current value, re-reading the files when they changed.
func (w *watched[T]) get() (T, error) {
	stamp, err := w.currentStamp()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil && w.loaded && stamp == w.stamp {
		return w.val, nil
	}
	val, perr := w.load(err)
	if perr != nil {
		if w.loaded {
			return w.val, nil // keep serving with the last good files
		}
		var zero T
		return zero, perr
	}
	w.val, w.stamp, w.loaded = val, stamp, true
	return val, nil
}

func (w *watched[T]) load(statErr error) (T, error) {
	var zero T
	if statErr != nil {
		return zero, statErr
	}
	contents := make([][]byte, len(w.paths))
	for i, p := range w.paths {
		b, err := os.ReadFile(p) //nolint:gosec // the path is configuration, not input
		if err != nil {
			return zero, fmt.Errorf("read %s: %w", p, err)
		}
		contents[i] = b
	}
	val, err := w.parse(contents)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", strings.Join(w.paths, ", "), err)
	}
	return val, nil
}

func (w *watched[T]) currentStamp() (string, error) {
	var b strings.Builder
	for _, p := range w.paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", p, err)
		}
		fmt.Fprintf(&b, "%s|%d|%d;", p, fi.ModTime().UnixNano(), fi.Size())
	}
	return b.String(), nil
}
