package ps

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"
)

func gzipBase64(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	if _, err := z.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// The decoding of a gzipped upload, as the agent renders it (internal/ocs upload.go).
const gunzipScript = "$gz = [Convert]::FromBase64String('%s')\n" +
	"$ms = New-Object IO.MemoryStream\n" +
	"$ms.Write($gz, 0, $gz.Length)\n" +
	"$ms.Position = 0\n" +
	"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Decompress)\n" +
	"$zr = New-Object IO.StreamReader -ArgumentList $zs, ([Text.Encoding]::UTF8)\n" +
	"$text = $zr.ReadToEnd()\n" +
	"$zr.Close()\n" +
	"$text.Length\n" +
	"$text.Substring(0, 5)\n"

func TestGZipStreamDecodesUploads(t *testing.T) {
	text := "héllo " + strings.Repeat("sip:user@corp.example.com\n", 500)
	got := run(t, strings.Replace(gunzipScript, "%s", gzipBase64(t, []byte(text)), 1), "", nil)
	// 6 characters of "héllo " and 500 lines of 26.
	want := "13006\r\nhéllo\r\n"
	if got.code != 0 || got.stdout != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, want)
	}
}

func TestStreamsRefuseWhatDotNetRefuses(t *testing.T) {
	for _, tc := range []struct{ name, script, stderr string }{
		{"unknown type", "New-Object IO.Compression.ZipArchive", "Cannot find type [IO.Compression.ZipArchive]"},
		{"not gzip", strings.Replace(gunzipScript, "%s", base64.StdEncoding.EncodeToString([]byte("plain text")), 1), "The magic number in GZip"},
		{"stream over a string", "New-Object IO.StreamReader -ArgumentList 'x'", "Stream was not r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, "$ErrorActionPreference = 'Stop'\n"+tc.script, "", nil)
			// The console wraps stderr at 80 columns: the wanted text is a short prefix.
			if got.code == 0 || !strings.Contains(got.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want an error with %q", got.code, got.stdout, got.stderr, tc.stderr)
			}
		})
	}
}

func TestMemoryStreamSeekAndToArray(t *testing.T) {
	script := "$ms = New-Object IO.MemoryStream\n" +
		"$ms.Write([Convert]::FromBase64String('AAECAw=='), 1, 3)\n" +
		"$ms.Seek(1, 'Begin')\n" +
		"$ms.Write([Convert]::FromBase64String('CQ=='), 0, 1)\n" +
		"[Convert]::ToBase64String($ms.ToArray())\n" +
		"$ms.Length\n"
	got := run(t, script, "", nil)
	if want := "1\r\nAQkD\r\n3\r\n"; got.code != 0 || got.stdout != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, want)
	}
}
