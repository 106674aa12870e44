package ocs

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"testing"
)

// BenchmarkParseFrames reads one whole-server export of about 2 MB, framed as the scripts print
// it: base64 in 76-character lines.
func BenchmarkParseFrames(b *testing.B) {
	data := bytes.Repeat([]byte("<Contact Buddy=\"user0001@corp.example.com\" />\r\n"), 2<<20/48)
	enc := base64.StdEncoding.EncodeToString(data)
	var out bytes.Buffer
	out.WriteString("DBImpExp: exported\r\n" + frameBegin + "\r\n")
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\r\n" + frameEnd + " " + strconv.Itoa(len(data)) + "\r\n")
	b.SetBytes(int64(out.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if frames, err := parseFrames(out.Bytes()); err != nil || len(frames) != 1 {
			b.Fatal(err)
		}
	}
}
