package backup

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// maxDecoded bounds what a decompressed object may grow to, so that a damaged or hostile file
// cannot exhaust memory.
const maxDecoded = 256 << 20

var (
	// ErrCorrupt means stored bytes do not match their digest or cannot be decoded.
	ErrCorrupt = errors.New("corrupt backup data")
	// ErrNotFound means the snapshot does not hold the user, or no snapshot does.
	ErrNotFound = errors.New("not found in backup")
)

// ServerEntry records what a snapshot got from one server.
type ServerEntry struct {
	Name    string `json:"name"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Users   int    `json:"users"`
}

// UserEntry locates one user's contact export in the store.
type UserEntry struct {
	Server string `json:"server"`
	// Digest is the SHA-256 (hex) of the uncompressed export.
	Digest   string `json:"digest"`
	Contacts int    `json:"contacts"`
	Bytes    int64  `json:"bytes"`
}

// FileEntry locates one configuration file in the store.
type FileEntry struct {
	Server string `json:"server,omitempty"`
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Bytes  int64  `json:"bytes"`
}

// Manifest describes one snapshot. The user table is not held in memory: look users up with
// Repository.Entry, Repository.ReadUser or Repository.Users.
type Manifest struct {
	FormatVersion int
	Name          string
	Time          time.Time
	Pool          string
	Servers       []ServerEntry
	Configuration []FileEntry
	// Users, Contacts and Bytes are totals; Bytes counts uncompressed user and configuration data.
	Users    int
	Contacts int
	Bytes    int64
	// Coverage is set on an incremental snapshot: which users this run exported, and from which
	// snapshot the others' entries were carried. Nil for a full snapshot.
	Coverage *Coverage
	// Added is what Write stored for this snapshot (compressed new blobs, user table, manifest);
	// zero for a snapshot read back.
	Added int64

	index   string
	changed map[string]UserEntry
	removed map[string]bool
}

// Coverage records what an incremental snapshot exported itself.
type Coverage struct {
	// CarriedFrom names the snapshot whose entries the users not exported keep.
	CarriedFrom string `json:"carriedFrom"`
	// Exported lists the users this run exported (their snapshot keys), sorted.
	Exported []string `json:"exported"`
	// Carried is the number of users whose entries were carried.
	Carried int `json:"carried"`
	// FullTime is the time of the full snapshot the chain of carried entries starts from.
	FullTime time.Time `json:"fullTime"`
}

// manifestFile is the stored form of a Manifest.
type manifestFile struct {
	FormatVersion int           `json:"formatVersion"`
	Name          string        `json:"name"`
	Time          time.Time     `json:"time"`
	Pool          string        `json:"pool"`
	Servers       []ServerEntry `json:"servers"`
	Configuration []FileEntry   `json:"configuration,omitempty"`
	Users         int           `json:"users"`
	Contacts      int           `json:"contacts"`
	Bytes         int64         `json:"bytes"`
	// UserIndex is the digest of the base user table blob, empty when the snapshot has no users.
	UserIndex string `json:"userIndex,omitempty"`
	// Changed holds the users that differ from, or are missing in, the base table.
	Changed map[string]UserEntry `json:"changed,omitempty"`
	// Removed lists the users of the base table absent from this snapshot.
	Removed []string `json:"removed,omitempty"`
	// Coverage is set on incremental snapshots only.
	Coverage *Coverage `json:"coverage,omitempty"`
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func validDigest(d string) bool {
	if len(d) != sha256.Size*2 {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validName accepts what Write produces and nothing that could leave the snapshots directory.
func validName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for _, c := range n {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

const nameTimeLayout = "20060102T150405Z"

// nameTime reads the time a snapshot name starts with, for manifests that cannot be decoded.
func nameTime(name string) (time.Time, bool) {
	head, _, _ := strings.Cut(name, "-")
	t, err := time.Parse(nameTimeLayout, head)
	return t, err == nil
}

// gzipWriters keeps compressors for reuse: each holds several hundred KiB of state, and a
// backup compresses one blob per user. BestSpeed costs about a third of the default level's CPU
// for blobs a few per cent larger; a blob is named by the digest of its uncompressed bytes, so
// the level changes neither names nor deduplication.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
	return zw
}}

func compress(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(data) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	// The pooled writer keeps a reference to buf until its next Reset: one blob at most.
	gzipWriters.Put(zw)
	return buf.Bytes()
}

func decompress(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if len(out) > maxDecoded {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxDecoded)
	}
	return out, nil
}

// encodeManifest returns the stored (compressed) form of mf.
func encodeManifest(mf *manifestFile) ([]byte, error) {
	raw, err := json.Marshal(mf)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return compress(raw), nil
}

// decodeManifest parses and validates a stored manifest. Every digest and name is checked here,
// because they become store keys.
func decodeManifest(data []byte) (*Manifest, error) {
	raw, err := decompress(data)
	if err != nil {
		return nil, err
	}
	var mf manifestFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mf); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: trailing data", ErrCorrupt)
	}
	switch {
	case mf.FormatVersion != FormatVersion:
		return nil, fmt.Errorf("%w: manifest format version %d, want %d", ErrCorrupt, mf.FormatVersion, FormatVersion)
	case !validName(mf.Name):
		return nil, fmt.Errorf("%w: manifest name %q", ErrCorrupt, mf.Name)
	case mf.UserIndex != "" && !validDigest(mf.UserIndex):
		return nil, fmt.Errorf("%w: manifest user index %q", ErrCorrupt, mf.UserIndex)
	case mf.UserIndex == "" && (mf.Users != len(mf.Changed) || len(mf.Removed) > 0):
		return nil, fmt.Errorf("%w: manifest without user index lists %d of %d users", ErrCorrupt, len(mf.Changed), mf.Users)
	case mf.Users < 0 || mf.Contacts < 0 || mf.Bytes < 0:
		return nil, fmt.Errorf("%w: negative totals in manifest", ErrCorrupt)
	}
	if err := validEntries(mf.Changed); err != nil {
		return nil, err
	}
	for _, f := range mf.Configuration {
		if !validDigest(f.Digest) || f.Bytes < 0 {
			return nil, fmt.Errorf("%w: configuration file %q digest %q", ErrCorrupt, f.Name, f.Digest)
		}
	}
	m := &Manifest{
		FormatVersion: mf.FormatVersion,
		Name:          mf.Name,
		Time:          mf.Time,
		Pool:          mf.Pool,
		Servers:       mf.Servers,
		Configuration: mf.Configuration,
		Users:         mf.Users,
		Contacts:      mf.Contacts,
		Bytes:         mf.Bytes,
		Coverage:      mf.Coverage,
		index:         mf.UserIndex,
		changed:       mf.Changed,
		removed:       make(map[string]bool, len(mf.Removed)),
	}
	for _, sip := range mf.Removed {
		if _, ok := mf.Changed[sip]; ok || m.removed[sip] {
			return nil, fmt.Errorf("%w: user %q both removed and listed", ErrCorrupt, sip)
		}
		m.removed[sip] = true
	}
	return m, nil
}

func validEntries(users map[string]UserEntry) error {
	for sip, e := range users {
		if sip == "" || !validDigest(e.Digest) || e.Bytes < 0 || e.Contacts < 0 {
			return fmt.Errorf("%w: user %q entry", ErrCorrupt, sip)
		}
	}
	return nil
}

// encodeIndex returns the uncompressed user table; encoding/json sorts map keys, so equal tables
// give equal bytes and therefore the same blob.
func encodeIndex(users map[string]UserEntry) ([]byte, error) {
	raw, err := json.Marshal(users)
	if err != nil {
		return nil, fmt.Errorf("encoding user table: %w", err)
	}
	return raw, nil
}

// decodeIndex parses an uncompressed user table.
func decodeIndex(raw []byte) (map[string]UserEntry, error) {
	var users map[string]UserEntry
	if err := json.Unmarshal(raw, &users); err != nil {
		return nil, fmt.Errorf("%w: user table: %w", ErrCorrupt, err)
	}
	if err := validEntries(users); err != nil {
		return nil, err
	}
	return users, nil
}

// toFile is the inverse of decodeManifest.
func (m *Manifest) toFile() *manifestFile {
	mf := &manifestFile{
		FormatVersion: m.FormatVersion,
		Name:          m.Name,
		Time:          m.Time,
		Pool:          m.Pool,
		Servers:       m.Servers,
		Configuration: m.Configuration,
		Users:         m.Users,
		Contacts:      m.Contacts,
		Bytes:         m.Bytes,
		UserIndex:     m.index,
		Changed:       m.changed,
		Coverage:      m.Coverage,
	}
	for sip := range m.removed {
		mf.Removed = append(mf.Removed, sip)
	}
	sort.Strings(mf.Removed)
	return mf
}
