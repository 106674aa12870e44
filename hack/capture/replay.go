package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// readRecording turns a recording back into the exchange it holds: the command line and stdin
// of its requests, the output and exit code of its Receive responses. It reads pypsrp's
// recordings as well as the capture's.
func readRecording(data []byte) (exchange, captureInfo, error) {
	var rec recording
	if err := yaml.Unmarshal(data, &rec); err != nil {
		return exchange{}, captureInfo{}, err
	}
	var ex exchange
	var out, errs bytes.Buffer
	commands := 0
	for i, m := range rec.Messages {
		req, err := parseEnvelope(m.Request)
		if err != nil {
			return exchange{}, captureInfo{}, fmt.Errorf("message %d: %w", i, err)
		}
		resp, err := parseEnvelope(m.Response)
		if err != nil {
			return exchange{}, captureInfo{}, fmt.Errorf("message %d: %w", i, err)
		}
		if c := req.Body.CommandLine; c != nil {
			commands++
			ex.command = strings.TrimSpace(c.Command + " " + strings.Join(c.Arguments, " "))
		}
		for _, s := range req.Body.Send.Streams {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Data))
			ex.stdin = append(ex.stdin, raw...)
			if ex.stdin == nil {
				ex.stdin = []byte{}
			}
		}
		for _, s := range resp.Body.Receive.Streams {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Data))
			if s.Name == "stderr" {
				errs.Write(raw)
			} else {
				out.Write(raw)
			}
		}
		if st := resp.Body.Receive.State; st != nil && st.ExitCode != nil {
			ex.result.ExitCode = *st.ExitCode
		}
	}
	if commands != 1 {
		return exchange{}, captureInfo{}, fmt.Errorf("%d commands in the recording, want 1", commands)
	}
	ex.result.Stdout, ex.result.Stderr, ex.op = out.Bytes(), errs.Bytes(), rec.Capture.Operation
	return ex, rec.Capture, nil
}

type envelope struct {
	Body struct {
		CommandLine *struct {
			Command   string   `xml:"Command"`
			Arguments []string `xml:"Arguments"`
		} `xml:"CommandLine"`
		Send struct {
			Streams []stream `xml:"Stream"`
		} `xml:"Send"`
		Receive struct {
			Streams []stream `xml:"Stream"`
			State   *struct {
				ExitCode *int `xml:"ExitCode"`
			} `xml:"CommandState"`
		} `xml:"ReceiveResponse"`
	} `xml:"Body"`
}

type stream struct {
	Name string `xml:"Name,attr"`
	Data string `xml:",chardata"`
}

func parseEnvelope(s string) (*envelope, error) {
	var e envelope
	if err := xml.Unmarshal([]byte(s), &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// shapeOf is what the agent relies on in a command's answer, whatever the data: whether it
// succeeded, which frames it printed and of what kind, which CSV columns, which sc sections,
// which preflight checks.
type shape struct {
	OK        bool
	Frames    int
	Kinds     []string
	CSVHeads  []string
	SC        []string
	PSVersion bool
	Errors    bool
}

var (
	scSection = regexp.MustCompile(`(?m)^\s*(SERVICE_NAME:|\[SC\].*FAILED \d+)`)
	rowPrefix = regexp.MustCompile(`^"[A-Za-z]+","(Passed|Failed|Skipped)",`)
)

// shapeOf reads the shape of a command's answer.
func shapeOf(res ocs.Result) (shape, error) {
	s := shape{OK: res.ExitCode == 0, Errors: bytes.Contains(res.Stderr, []byte("#< CLIXML"))}
	frames, err := ocs.ParseFrames(res.Stdout)
	if err != nil {
		return s, err
	}
	s.Frames = len(frames)
	for _, f := range frames {
		s.Kinds = append(s.Kinds, frameKind(f))
		if head := csvHead(f); head != "" {
			s.CSVHeads = append(s.CSVHeads, head)
		}
	}
	for _, m := range scSection.FindAllString(string(res.Stdout), -1) {
		s.SC = append(s.SC, strings.Fields(m)[0])
	}
	s.PSVersion = bytes.Contains(res.Stdout, []byte("#ocsha-psversion "))
	return s, nil
}

func frameKind(f []byte) string {
	switch {
	case len(f) >= 2 && f[0] == 0xFF && f[1] == 0xFE:
		return "utf16"
	case bytes.HasPrefix(f, []byte("PK\x03\x04")):
		return "zip"
	case bytes.HasPrefix(f, []byte("<?xml")):
		return "xml"
	case rowPrefix.Match(f):
		return "check:" + string(f[1:bytes.IndexByte(f[1:], '"')+1])
	}
	return "text"
}

// csvHead returns a CSV frame's header row when the frame starts with one.
func csvHead(f []byte) string {
	r := csv.NewReader(bytes.NewReader(f))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil || errors.Is(err, io.EOF) || len(rec) < 2 {
		return ""
	}
	for _, h := range rec {
		if h == "" || strings.ContainsAny(h, "@:=\\ ") {
			return ""
		}
	}
	return strings.Join(rec, ",")
}

// compareShapes lists how the emulator's answer differs in shape from the recorded one.
func compareShapes(recorded, replayed shape) []string {
	var diffs []string
	add := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			diffs = append(diffs, fmt.Sprintf("%s: recorded %v, emulator %v", what, a, b))
		}
	}
	add("success", recorded.OK, replayed.OK)
	add("frame kinds", dedupe(recorded.Kinds), dedupe(replayed.Kinds))
	add("CSV headers", dedupe(recorded.CSVHeads), dedupe(replayed.CSVHeads))
	add("sc sections", recorded.SC, replayed.SC)
	add("PowerShell version line", recorded.PSVersion, replayed.PSVersion)
	add("errors on stderr", recorded.Errors, replayed.Errors)
	return diffs
}

// dedupe keeps the first of each run of equal values: a server with more users prints more
// frames of the same kind.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// replay runs a recorded exchange on a server through exec and compares the shapes.
func replay(ctx context.Context, exec ocs.Executor, server string, ex exchange) ([]string, error) {
	recorded, err := shapeOf(ex.result)
	if err != nil {
		return nil, fmt.Errorf("the recorded answer does not parse as the agent reads it: %w", err)
	}
	res, err := exec.Run(ctx, server, ex.command, ex.stdin)
	if err != nil {
		return nil, err
	}
	replayed, err := shapeOf(res)
	if err != nil {
		return nil, fmt.Errorf("the emulator's answer does not parse: %w", err)
	}
	return compareShapes(recorded, replayed), nil
}
