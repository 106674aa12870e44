package backup

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := NewFileStore(filepath.Join(root, "new", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/b/c", "a/b-d", "a/b/e", "a.x", "z"} {
		if err := s.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "a/b/c", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "a/b/c"); err != nil || string(got) != "replaced" {
		t.Fatalf("Get after overwrite = %q, %v", got, err)
	}
	if _, err := s.Get(ctx, "a/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get of a missing key: %v, want fs.ErrNotExist", err)
	}

	lists := map[string][]string{
		"":        {"a.x", "a/b-d", "a/b/c", "a/b/e", "z"},
		"a/":      {"a/b-d", "a/b/c", "a/b/e"},
		"a/b":     {"a/b-d", "a/b/c", "a/b/e"},
		"a/b/":    {"a/b/c", "a/b/e"},
		"nope/":   nil,
		"a/b/c/d": nil,
	}
	for prefix, want := range lists {
		got, err := s.List(ctx, prefix)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("List(%q) = %v, %v; want %v", prefix, got, err, want)
		}
	}

	// A temporary file left by a crash is invisible.
	if err := os.WriteFile(filepath.Join(root, "new", "dir", "a", tmpPrefix+"123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx, "a/"); len(got) != 3 {
		t.Errorf("List shows temporary files: %v", got)
	}

	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := s.Get(ctx, "a/b/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Delete: %v", err)
	}
}

func TestFileStoreRejectsBadKeys(t *testing.T) {
	ctx := context.Background()
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "/abs", "../up", "a/../../up", "a//b", "a/./b", "a/", `a\b`, "a/" + tmpPrefix + "x", "nul\x00"} {
		if err := s.Put(ctx, k, nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := s.List(ctx, "../"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("List(../) = %v, want ErrInvalidKey", err)
	}
}

func TestFileStoreHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Put = %v, want context.Canceled", err)
	}
}
