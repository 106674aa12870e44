package ps

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
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

// The compression of an answer, as the agent renders it (internal/ocs frame.go psFrameGzip),
// with the frame's lines left out: the base64 of the gzip stream on one line.
const gzipScript = "$d = [Text.Encoding]::UTF8.GetBytes('%s')\n" +
	"$ms = New-Object IO.MemoryStream\n" +
	"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Compress)\n" +
	"$zs.Write($d, 0, $d.Length)\n" +
	"$zs.Close()\n" +
	"$d = $ms.ToArray()\n" +
	"[Convert]::ToBase64String($d)\n"

func TestGZipStreamCompressesAnswers(t *testing.T) {
	for name, text := range map[string]string{
		"empty":       "",
		"a short one": "héllo",
		"a long one":  strings.Repeat("sip:user@corp.example.com,", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			got := run(t, "$ErrorActionPreference = 'Stop'\n"+strings.Replace(gzipScript, "%s", text, 1), "", nil)
			if got.code != 0 {
				t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
			}
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(got.stdout))
			if err != nil {
				t.Fatalf("stdout is not base64: %v", err)
			}
			z, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("not a gzip stream: %v", err)
			}
			plain, err := io.ReadAll(z)
			if err != nil || string(plain) != text {
				t.Fatalf("gunzipped %d bytes (%v), want the %d bytes written", len(plain), err, len(text))
			}
		})
	}
}

// A Write at an offset compresses exactly the bytes asked for, and more Writes add to them.
func TestGZipStreamWritesAtOffsets(t *testing.T) {
	script := "$d = [Text.Encoding]::UTF8.GetBytes('abcdef')\n" +
		"$ms = New-Object IO.MemoryStream\n" +
		"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Compress)\n" +
		"$zs.Write($d, 1, 3)\n" +
		"$zs.Write($d, 0, 1)\n" +
		"$zs.Close()\n" +
		"[Convert]::ToBase64String($ms.ToArray())\n"
	got := run(t, script, "", nil)
	if got.code != 0 {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(got.stdout))
	z, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(z); err != nil || string(plain) != "bcda" {
		t.Fatalf("gunzipped %q, %v; want %q", plain, err, "bcda")
	}
}

func TestGZipStreamRefusesWhatDotNetRefuses(t *testing.T) {
	const compress = "$ms = New-Object IO.MemoryStream\n" +
		"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Compress)\n" +
		"$d = [Text.Encoding]::UTF8.GetBytes('abc')\n"
	for _, tc := range []struct{ name, script, stderr string }{
		{"writing to a Decompress stream",
			"$ms = New-Object IO.MemoryStream\n$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Decompress)\n$zs.Write([Text.Encoding]::UTF8.GetBytes('abc'), 0, 3)",
			"Writing to the compression stream is not supported."},
		{"writing after Close", compress + "$zs.Close()\n$zs.Write($d, 0, 3)", "Cannot access a closed Stream."},
		{"writing to the closed MemoryStream", compress + "$zs.Close()\n$ms.Write($d, 0, 3)", "Cannot access a closed Stream."},
		{"a count beyond the array", compress + "$zs.Write($d, 1, 3)", "Offset and length were out of bounds"},
		{"reading a Compress stream", compress + "$zr = New-Object IO.StreamReader -ArgumentList $zs", "Stream was not readable."},
		{"compressing into a string", "New-Object IO.Compression.GZipStream -ArgumentList 'x', ([IO.Compression.CompressionMode]::Compress)", "Stream does not support writing."},
		{"an unknown mode", "New-Object IO.Compression.GZipStream -ArgumentList (New-Object IO.MemoryStream), 'Squash'", "System.IO.Compression.CompressionMode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, "$ErrorActionPreference = 'Stop'\n"+tc.script, "", nil)
			// The console wraps stderr: a wrapped line ends with a blank, its continuation
			// starts with three.
			stderr := strings.ReplaceAll(got.stderr, " _x000D__x000A_</S><S S=\"Error\">   ", "")
			if got.code == 0 || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want an error with %q", got.code, got.stdout, got.stderr, tc.stderr)
			}
		})
	}
}
