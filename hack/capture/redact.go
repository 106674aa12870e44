package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// redactor rewrites what a recording would tell about the site: user addresses become
// userNNNN@corp.example.com (the same user always the same number), the directory's DC=
// components DC=corp,DC=example,DC=com, the servers ocsN, the account ocsadmin, the domain
// CORP, and any extra word "redacted". It reaches inside what scripts print as frames (base64
// of UTF-16 XML, ZIP packages, CSV) and inside -EncodedCommand scripts. Configured tool paths
// become the default ones, so that a replay finds the emulator's tools.
type redactor struct {
	pairs []pair // applied in order, longest first
	users map[string]string
	// domains are DNS domains of the site, lower case.
	domains []string
	// lastFrameLen is the length of the frame frame() wrote last.
	lastFrameLen int
}

// pair replaces from with to, as a whole word unless path is set.
type pair struct {
	from, to string
	path     bool
	re       *regexp.Regexp
}

const redactedDomain = "corp.example.com"

var (
	addressPattern = regexp.MustCompile(`(?i)\b([A-Za-z0-9._%+\-]+)@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)\b`)
	dcPattern      = regexp.MustCompile(`(?i)DC=[^,"'\\\s<>]+(?:,DC=[^,"'\\\s<>]+)*`)
)

// newRedactor knows the site: servers as name -> FQDN, the account, the NetBIOS domain, the
// configured tool paths (-> defaults) and extra words.
func newRedactor(servers map[string]string, account, netbios string, tools, defaults ocs.Tools, extra []string) *redactor {
	r := &redactor{users: map[string]string{}}
	names := make([]string, 0, len(servers))
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		fqdn := servers[n]
		short, domain, _ := strings.Cut(fqdn, ".")
		r.pairs = append(r.pairs, pair{from: fqdn, to: fmt.Sprintf("ocs%d.%s", i+1, redactedDomain)},
			pair{from: n, to: fmt.Sprintf("ocs%d", i+1)}, pair{from: short, to: fmt.Sprintf("ocs%d", i+1)})
		if domain != "" {
			r.domains = append(r.domains, strings.ToLower(domain))
			r.pairs = append(r.pairs, pair{from: domain, to: redactedDomain})
		}
	}
	if tools.LcscmdPath != "" && tools.LcscmdPath != defaults.LcscmdPath {
		r.pairs = append(r.pairs, pair{from: tools.LcscmdPath, to: defaults.LcscmdPath, path: true})
	}
	if tools.DBImpExpPath != "" && tools.DBImpExpPath != defaults.DBImpExpPath {
		r.pairs = append(r.pairs, pair{from: tools.DBImpExpPath, to: defaults.DBImpExpPath, path: true})
	}
	if account != "" {
		r.pairs = append(r.pairs, pair{from: account, to: "ocsadmin"})
	}
	if netbios != "" {
		r.pairs = append(r.pairs, pair{from: netbios, to: "CORP"})
	}
	for _, w := range extra {
		if w != "" {
			r.pairs = append(r.pairs, pair{from: w, to: "redacted"})
		}
	}
	sort.SliceStable(r.pairs, func(i, j int) bool { return len(r.pairs[i].from) > len(r.pairs[j].from) })
	for i := range r.pairs {
		if !r.pairs[i].path {
			r.pairs[i].re = regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(r.pairs[i].from) + `\b`)
		}
	}
	return r
}

// text redacts plain text.
func (r *redactor) text(s string) string {
	s = addressPattern.ReplaceAllStringFunc(s, func(m string) string {
		local, _, _ := strings.Cut(m, "@")
		key := strings.ToLower(local)
		if _, ok := r.users[key]; !ok {
			r.users[key] = fmt.Sprintf("user%04d", len(r.users)+1)
		}
		return r.users[key] + "@" + redactedDomain
	})
	s = dcPattern.ReplaceAllString(s, "DC=corp,DC=example,DC=com")
	for _, p := range r.pairs {
		if p.path {
			s = replaceFold(s, p.from, p.to)
			continue
		}
		s = p.re.ReplaceAllLiteralString(s, p.to)
	}
	return s
}

// replaceFold replaces every case-insensitive occurrence of from.
func replaceFold(s, from, to string) string {
	if from == "" {
		return s
	}
	lower, lf := strings.ToLower(s), strings.ToLower(from)
	var b strings.Builder
	for {
		i := strings.Index(lower, lf)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i] + to)
		s, lower = s[i+len(from):], lower[i+len(from):]
	}
}

// output redacts a command's output: the text, and the content of every frame (a gzip frame's
// content gunzipped, redacted and gzipped again).
func (r *redactor) output(out []byte) []byte {
	begin, end := ocs.FrameMarkers[0], ocs.FrameMarkers[1]
	var b strings.Builder
	var body strings.Builder
	inFrame, zipped := false, false
	for _, line := range strings.SplitAfter(string(out), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case (t == begin || t == ocs.GzipFrameBegin) && !inFrame:
			inFrame, zipped = true, t == ocs.GzipFrameBegin
			body.Reset()
			b.WriteString(line)
		case inFrame && strings.HasPrefix(t, end+" "):
			inFrame = false
			b.WriteString(r.frame(body.String(), zipped, strings.HasSuffix(line, "\r\n")))
			b.WriteString(end + " " + strconv.Itoa(r.lastFrameLen) + lineEnd(line))
		case inFrame:
			body.WriteString(strings.Join(strings.Fields(t), ""))
		default:
			b.WriteString(r.text(line))
		}
	}
	return []byte(b.String())
}

func lineEnd(line string) string {
	if strings.HasSuffix(line, "\r\n") {
		return "\r\n"
	}
	return "\n"
}

// frame redacts a frame's base64 body and writes it back in lines of 76 characters.
func (r *redactor) frame(b64 string, zipped, crlf bool) string {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err == nil && zipped {
		data, err = gunzip(data)
	}
	if err != nil {
		data = nil // an unreadable frame is dropped rather than leaked
	}
	data = r.payload(data)
	if zipped {
		data = gzipBytes(data)
	}
	r.lastFrameLen = len(data)
	enc := base64.StdEncoding.EncodeToString(data)
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + nl)
		enc = enc[76:]
	}
	b.WriteString(enc + nl)
	return b.String()
}

func gunzip(data []byte) ([]byte, error) {
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, _ = z.Write(data) // a bytes.Buffer does not fail
	_ = z.Close()
	return b.Bytes()
}

// payload redacts a frame's bytes by kind: UTF-16 with its BOM, a ZIP package, or UTF-8 text.
func (r *redactor) payload(data []byte) []byte {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFE:
		u := make([]uint16, (len(data)-2)/2)
		for i := range u {
			u[i] = uint16(data[2+2*i]) | uint16(data[3+2*i])<<8
		}
		text := r.text(string(utf16.Decode(u)))
		out := []byte{0xFF, 0xFE}
		for _, c := range utf16.Encode([]rune(text)) {
			out = append(out, byte(c), byte(c>>8))
		}
		return out
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return r.zip(data)
	}
	return []byte(r.text(string(data)))
}

// zip rewrites every part of a package redacted.
func (r *redactor) zip(data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(rc, 1<<30))
		_ = rc.Close()
		if err != nil {
			return nil
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			return nil
		}
		_, _ = w.Write(r.payload(body))
	}
	if zw.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// command redacts a command line, inside its -EncodedCommand scripts too.
func (r *redactor) command(line string) string {
	const flag = "-EncodedCommand "
	parts := strings.Split(line, flag)
	for i := range parts {
		if i == 0 {
			parts[i] = r.text(parts[i])
			continue
		}
		enc, rest, _ := strings.Cut(parts[i], " ")
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			parts[i] = r.text(parts[i])
			continue
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j]) | uint16(raw[2*j+1])<<8
		}
		script := r.text(string(utf16.Decode(u)))
		var b []byte
		for _, c := range utf16.Encode([]rune(script)) {
			b = append(b, byte(c), byte(c>>8))
		}
		parts[i] = base64.StdEncoding.EncodeToString(b)
		if rest != "" {
			parts[i] += " " + r.text(rest)
		}
	}
	return strings.Join(parts, flag)
}
