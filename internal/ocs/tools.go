package ocs

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Tools says where the OCS 2007 R2 command-line tools are on the servers. A path may start with
// a %VARIABLE% of the server's environment, expanded there.
type Tools struct {
	LcscmdPath   string
	DBImpExpPath string
}

// DefaultTools are the install paths inferred.go justifies.
func DefaultTools() Tools {
	return Tools{LcscmdPath: defaultLcscmdPath, DBImpExpPath: defaultDBImpExpPath}
}

// toolPathPattern is what a tool path may look like: a drive or a %VARIABLE%, then backslash
// separated names of letters, digits, blanks and _ . ( ) -, ending in .exe. The OCSPool CRD's
// CEL rule on spec.tools is the same expression, so nothing the API accepts is refused here.
var toolPathPattern = regexp.MustCompile(`^(%[A-Za-z0-9_()]+%|[A-Za-z]:)([\x5c][A-Za-z0-9 _.()-]+)+[.][eE][xX][eE]$`)

// ValidateToolPath reports whether p may name a tool on a server.
func ValidateToolPath(p string) error {
	if len(p) > 260 || !toolPathPattern.MatchString(p) {
		return fmt.Errorf("%w: %q is not an absolute path to an .exe made of letters, digits, blanks and _ . ( ) -", ErrInvalidArgument, p)
	}
	return nil
}

func (t Tools) withDefaults() Tools {
	d := DefaultTools()
	if t.LcscmdPath == "" {
		t.LcscmdPath = d.LcscmdPath
	}
	if t.DBImpExpPath == "" {
		t.DBImpExpPath = d.DBImpExpPath
	}
	return t
}

func (t Tools) validate() error {
	for _, p := range []string{t.LcscmdPath, t.DBImpExpPath} {
		if err := ValidateToolPath(p); err != nil {
			return err
		}
	}
	return nil
}

// Option configures NewAgent.
type Option func(*options)

type options struct {
	tools        Tools
	confirmReads int
	sleep        SleepFunc
	writeCheck   func(ctx context.Context, server string) error
}

// WithTools sets where the OCS 2007 R2 tools are; empty fields keep DefaultTools.
func WithTools(t Tools) Option { return func(o *options) { o.tools = t } }

// psTool renders the lines that set $<v> to a tool's expanded path, failing with the fix when
// the file is not there: a missing tool must not look like a tool that failed.
func psTool(v, label, field, path string) (string, error) {
	if err := ValidateToolPath(path); err != nil {
		return "", err
	}
	q, err := QuotePS(path)
	if err != nil {
		return "", err
	}
	msg, err := QuotePS(label + " is not at ")
	if err != nil {
		return "", err
	}
	fix, err := QuotePS("; install it there or set spec.tools." + field + ".")
	if err != nil {
		return "", err
	}
	return "$" + v + " = [Environment]::ExpandEnvironmentVariables(" + q + ")\n" +
		"if (-not [IO.File]::Exists($" + v + ")) { throw (" + msg + " + $" + v + " + " + fix + ") }\n", nil
}

// psRunTool renders a call of the tool in $<v> with args (PowerShell syntax), its output kept
// in $out and its exit code in $code. Errors do not stop the script meanwhile: a PowerShell
// host whose output is redirected turns a native program's stderr into error records, which
// 'Stop' would make fatal.
func psRunTool(v string, args ...string) string {
	return "$ErrorActionPreference = 'Continue'\n" +
		"$out = & $" + v + " " + strings.Join(args, " ") + "\n" +
		"$code = $LASTEXITCODE\n" +
		"$ErrorActionPreference = 'Stop'\n"
}
