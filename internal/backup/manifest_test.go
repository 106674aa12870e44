package backup

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleManifest() *Manifest {
	return &Manifest{
		FormatVersion: FormatVersion,
		Name:          "20261125T081500Z-0123abcd",
		Time:          t0,
		Pool:          "pool-a",
		Servers:       []ServerEntry{{Name: "ocs1", Users: 2}, {Name: "ocs2", Skipped: true, Reason: "Unreachable"}},
		Configuration: []FileEntry{{Name: "global.xml", Digest: digestOf([]byte("g")), Bytes: 1}},
		Users:         2,
		Contacts:      3,
		Bytes:         5,
		index:         digestOf([]byte("index")),
		changed:       map[string]UserEntry{"sip:a@x": {Server: "ocs1", Digest: digestOf([]byte("a")), Contacts: 3, Bytes: 4}},
		removed:       map[string]bool{"sip:gone@x": true},
	}
}

func TestManifestCodec(t *testing.T) {
	m := sampleManifest()
	data, err := encodeManifest(m.toFile())
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}

	bad := map[string]func(mf *manifestFile){
		"unknown format version": func(mf *manifestFile) { mf.FormatVersion = 2 },
		"name that is a path":    func(mf *manifestFile) { mf.Name = "../x" },
		"user digest that is a path": func(mf *manifestFile) {
			mf.Changed["sip:a@x"] = UserEntry{Digest: "../../../etc/passwd"}
		},
		"short index digest":      func(mf *manifestFile) { mf.UserIndex = "abc" },
		"config digest uppercase": func(mf *manifestFile) { mf.Configuration[0].Digest = strings.ToUpper(mf.Configuration[0].Digest) },
		"removed and changed":     func(mf *manifestFile) { mf.Removed = append(mf.Removed, "sip:a@x") },
		"no index but removals":   func(mf *manifestFile) { mf.UserIndex = "" },
		"negative totals":         func(mf *manifestFile) { mf.Bytes = -1 },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			mf := sampleManifest().toFile()
			mutate(mf)
			data, err := encodeManifest(mf)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeManifest(data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode = %v, want ErrCorrupt", err)
			}
		})
	}
	for name, data := range map[string][]byte{
		"not gzip":       []byte("{}"),
		"gzip not JSON":  compress([]byte("nope")),
		"trailing data":  compress([]byte(`{"formatVersion":1,"name":"n"} {}`)),
		"unknown fields": compress([]byte(`{"formatVersion":1,"name":"n","extra":1}`)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeManifest(data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzManifest feeds the manifest and user-table decoders arbitrary bytes, compressed or not:
// they must not panic, and whatever they accept must survive a round trip.
func FuzzManifest(f *testing.F) {
	m := sampleManifest()
	raw, err := encodeManifest(m.toFile())
	if err != nil {
		f.Fatal(err)
	}
	plain, err := decompress(raw)
	if err != nil {
		f.Fatal(err)
	}
	table, err := encodeIndex(map[string]UserEntry{"sip:a@x": m.changed["sip:a@x"]})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(table)
	f.Add([]byte(`{"formatVersion":1,"name":"x","users":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := decodeManifest(compress(data)); err == nil {
			again, err := encodeManifest(m.toFile())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeManifest(again); err != nil {
				t.Fatalf("accepted manifest does not round-trip: %v", err)
			}
		}
		_, _ = decodeManifest(data)
		if users, err := decodeIndex(data); err == nil {
			if err := validEntries(users); err != nil {
				t.Fatalf("accepted user table has invalid entries: %v", err)
			}
		}
	})
}
