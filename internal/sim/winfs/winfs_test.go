package winfs

import (
	"errors"
	"io/fs"
	"testing"
)

// TestSharedReadsAndOwnedWrites checks that bytes shared with a reader or given by a writer stay
// what the file held when read, whatever the reader, the writer or the file do next.
func TestSharedReadsAndOwnedWrites(t *testing.T) {
	f := New()
	const p = `C:\Temp\a.xml`
	owned := make([]byte, 3, 16)
	copy(owned, "abc")
	if err := f.WriteFileOwned(p, owned); err != nil {
		t.Fatal(err)
	}
	shared, err := f.ReadFileShared(`c:/temp/A.XML`)
	if err != nil || string(shared) != "abc" {
		t.Fatalf("ReadFileShared = %q, %v", shared, err)
	}
	_ = append(shared, 'x') // a reader's append must not reach the file
	_ = append(owned, 'y')  // nor the writer's append to what it gave away
	if err := f.AppendFile(p, []byte("def")); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.ReadFile(p); string(got) != "abcdef" {
		t.Fatalf("after AppendFile: %q", got)
	}
	if string(shared) != "abc" {
		t.Fatalf("AppendFile changed bytes read before: %q", shared)
	}
	if err := f.WriteFile(p, []byte("new")); err != nil || string(shared) != "abc" {
		t.Fatalf("WriteFile changed bytes read before: %q, %v", shared, err)
	}
	if _, err := f.ReadFileShared(`C:\Temp\missing`); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := f.WriteFileOwned("relative", nil); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("invalid path: %v", err)
	}
}
