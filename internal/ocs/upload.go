package ocs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// Uploads: see inferred.go ("Standard input").

const (
	// tempExpansion is what %TEMP% may add to a line when cmd expands it: a profile path of up
	// to MAX_PATH characters. cmd's limit holds after expansion.
	tempExpansion = 260
	// uploadSuffix names an upload's temporary file.
	uploadSuffix = ".b64"
)

// gzipPayload compresses an upload's data (inferred.go, "Compressed uploads"): an import's XML
// shrinks several times, and each echo line saved is a command's round trips and a cmd.exe
// start on the server.
func gzipPayload(data []byte) ([]byte, error) {
	var b bytes.Buffer
	z, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := z.Write(data); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// echoLine is the cmd line appending one chunk to an upload.
func echoLine(chunk, name string) string {
	return "echo " + chunk + " >> " + cmdTempPath(name)
}

// chunkRoom is how many base64 characters an echo line can carry next to rest characters of
// other commands, rounded down to whole 4-character groups: chunks are then never "on" or "off",
// which echo would take as a switch.
func chunkRoom(name string, rest int) int {
	n := maxCommandLine - tempExpansion - rest - len(echoLine("", name))
	return max(n, 0) / 4 * 4
}

// runPSWithData uploads data, then runs the script render gives for the upload's file name
// (a PowerShell single-quoted literal is safe for it: the agent made the name).
func (r *runner) runPSWithData(ctx context.Context, op, server string, data []byte, render func(upload string) (string, error)) (Result, error) {
	name := tempName(uploadSuffix)
	script, err := render(name)
	if err != nil {
		return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	ps, err := encodePS(script)
	if err != nil {
		return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	b64 := base64.StdEncoding.EncodeToString(data)
	tail := min(chunkRoom(name, len(ps)+len(" && ")), len(b64))
	if tail < 4 && b64 != "" {
		tail = 0
	}
	head, last := b64[:len(b64)-tail], b64[len(b64)-tail:]
	for step := chunkRoom(name, 0); head != ""; {
		n := min(step, len(head))
		if _, err := r.runOK(ctx, op, server, echoLine(head[:n], name), nil); err != nil {
			// Best effort: the file holds only base64 of this command's data.
			_, _ = r.run(ctx, op, server, "del "+cmdTempPath(name), nil)
			return Result{}, err
		}
		head = head[n:]
	}
	line := ps
	if last != "" {
		if line, err = joinCmd("&&", echoLine(last, name), ps); err != nil {
			return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
		}
	}
	// stdin is closed: powershell.exe may wait for the end of a redirected stdin.
	return r.runOK(ctx, op, server, line, []byte{})
}

// psReadUpload renders the lines that read an upload into $data (bytes) and delete its file.
func psReadUpload(name string) (string, error) { return psReadUploadInto("$data", name) }

// psReadUploadInto renders the lines that decode an upload's base64 into variable (bytes) and
// delete its file; the name must be one of the agent's own temp names.
func psReadUploadInto(variable, name string) (string, error) {
	if !strings.HasPrefix(name, tempPrefix) {
		return "", fmt.Errorf("%w: upload name %q", ErrInvalidArgument, name)
	}
	q, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return "$up = Join-Path $env:TEMP " + q + "\n" +
		variable + " = [Convert]::FromBase64String([IO.File]::ReadAllText($up))\n" +
		"Remove-Item -LiteralPath $up\n", nil
}

// psReadGzipUploadText renders the lines that read a gzip-compressed upload of UTF-8 text into
// $text and delete its file, with .NET 2.0's GZipStream behind a StreamReader (inferred.go,
// "Compressed uploads"): no loop, no method newer than .NET 2.0, no PowerShell 3.0 syntax.
func psReadGzipUploadText(name string) (string, error) {
	read, err := psReadUploadInto("$gz", name)
	if err != nil {
		return "", err
	}
	return read +
		"$ms = New-Object IO.MemoryStream\n" +
		"$ms.Write($gz, 0, $gz.Length)\n" +
		"$ms.Position = 0\n" +
		"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Decompress)\n" +
		"$zr = New-Object IO.StreamReader -ArgumentList $zs, ([Text.Encoding]::UTF8)\n" +
		"$text = $zr.ReadToEnd()\n" +
		"$zr.Close()\n", nil
}
