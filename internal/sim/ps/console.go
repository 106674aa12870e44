package ps

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// The cmdlets of this file are the ones the recorded Windows exchanges use: Write-Host,
// Start-Sleep and Get-Location (alias pwd).

// PathInfoType is the type name of Get-Location's result.
const PathInfoType = "System.Management.Automation.PathInfo"

func addConsoleCmdlets(r Registry) {
	r.Add(&Cmdlet{Name: "Write-Host", Params: []string{"Object", "Separator", "ForegroundColor", "BackgroundColor"},
		Switches: []string{"NoNewline"}, Run: writeHost})
	r.Add(&Cmdlet{Name: "Start-Sleep", Params: []string{"Seconds", "Milliseconds"}, Run: startSleep})
	loc := &Cmdlet{Name: "Get-Location", Params: []string{"PSProvider", "PSDrive"}, Run: getLocation}
	r.Add(loc)
	// PowerShell's built-in aliases of Get-Location.
	r["pwd"], r["gl"] = loc, loc
}

// writeHost writes its objects (arrays flattened) joined by the separator, then a bare LF,
// straight to the console host: redirected, powershell.exe ends Write-Host lines with "\n"
// where formatted output ends them with "\r\n". Pipeline input is written one object a line.
func writeHost(_ context.Context, c *Call) ([]any, error) {
	w := c.Host
	if w == nil {
		w = io.Discard
	}
	sep := " "
	if v, ok := c.Get("Separator", -1); ok {
		sep = ToString(v)
	}
	end := "\n"
	if c.Switch("NoNewline") {
		end = ""
	}
	line := func(objs []any) {
		parts := make([]string, 0, len(objs))
		for _, o := range objs {
			parts = append(parts, hostWords(o, sep))
		}
		_, _ = io.WriteString(w, strings.Join(parts, sep)+end)
	}
	var objs []any
	if v, ok := c.Named["object"]; ok {
		objs = append(objs, v)
	}
	objs = append(objs, c.Positional...)
	if len(objs) == 0 && c.HasInput {
		for _, it := range c.Input {
			line([]any{it})
		}
		return nil, nil
	}
	line(objs)
	return nil, nil
}

// hostWords renders one Write-Host object: an array's elements joined by the separator.
func hostWords(v any, sep string) string {
	arr, ok := v.([]any)
	if !ok {
		return ToString(v)
	}
	parts := make([]string, len(arr))
	for i, e := range arr {
		parts[i] = hostWords(e, sep)
	}
	return strings.Join(parts, sep)
}

// startSleep waits -Seconds (also the first positional argument) or -Milliseconds through the
// session's SleepFunc, so that a stopped command stops sleeping.
func startSleep(ctx context.Context, c *Call) ([]any, error) {
	_, hasSec := c.Get("Seconds", 0)
	_, hasMs := c.Named["milliseconds"]
	var d time.Duration
	switch {
	case hasSec && hasMs:
		return nil, (&ErrorRecord{Message: "Parameter set cannot be resolved using the specified named parameters.",
			Category: "InvalidArgument", Reason: "ParameterBindingException",
			FQID: "AmbiguousParameterSet,Microsoft.PowerShell.Commands.StartSleepCommand"}).Terminating()
	case hasMs:
		n, rec := sleepArg(c, "Milliseconds", -1, math.MaxInt32)
		if rec != nil {
			return nil, rec
		}
		d = time.Duration(n) * time.Millisecond
	case hasSec:
		n, rec := sleepArg(c, "Seconds", 0, math.MaxInt32/1000)
		if rec != nil {
			return nil, rec
		}
		d = time.Duration(n) * time.Second
	default:
		// powershell.exe -NonInteractive cannot prompt for the mandatory parameter.
		return nil, (&ErrorRecord{Message: "Cannot process command because of one or more missing mandatory parameters: Seconds.",
			Category: "InvalidArgument", Reason: "ParameterBindingException",
			FQID: "MissingMandatoryParameter,Microsoft.PowerShell.Commands.StartSleepCommand"}).Terminating()
	}
	sleep := c.Session.Sleep
	if sleep == nil {
		sleep = sleepTimer
	}
	if d <= 0 {
		return nil, ctx.Err()
	}
	return nil, sleep(ctx, d)
}

// sleepArg binds an Int32 parameter of Start-Sleep validated to 0..limit.
func sleepArg(c *Call, name string, pos, limit int) (int, *ErrorRecord) {
	v, _ := c.Get(name, pos)
	n, ok := toInt(v)
	if _, isBool := v.(bool); !ok || isBool || v == nil {
		return 0, (&ErrorRecord{Message: fmt.Sprintf("Cannot bind parameter '%s'. Cannot convert value \"%s\" to type "+
			"\"System.Int32\". Error: \"Input string was not in a correct format.\"", name, ToString(v)),
			Category: "InvalidArgument", Reason: "ParameterBindingException",
			FQID: "CannotConvertArgumentNoMessage,Microsoft.PowerShell.Commands.StartSleepCommand"}).Terminating()
	}
	if n < 0 || n > limit {
		bound, word := "minimum", "less"
		relation, limitShown := "greater than or equal to", 0
		if n > limit {
			bound, word, relation, limitShown = "maximum", "greater", "less than or equal to", limit
		}
		return 0, (&ErrorRecord{Message: fmt.Sprintf("Cannot validate argument on parameter '%s'. The %d argument is %s "+
			"than the %s allowed range of %d. Supply an argument that is %s %d and then try the command again.",
			name, n, word, bound, limitShown, relation, limitShown),
			Category: "InvalidData", Reason: "ParameterBindingValidationException",
			FQID: "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.StartSleepCommand"}).Terminating()
	}
	return n, nil
}

// getLocation returns the working directory as a PathInfo, whose ToString is the path.
func getLocation(_ context.Context, c *Call) ([]any, error) {
	dir := c.Session.Dir
	if dir == "" {
		dir = `C:\`
	}
	o := NewObject(PathInfoType)
	drive, _, _ := strings.Cut(dir, ":")
	o.Set("Drive", drive)
	o.Set("Provider", `Microsoft.PowerShell.Core\FileSystem`)
	o.Set("ProviderPath", dir)
	o.Set("Path", dir)
	o.Text = dir
	o.Table = []string{"Path"}
	return []any{o}, nil
}

// psVersionTable is $PSVersionTable: absent (null) in PowerShell 1.0, else an object whose
// PSVersion has Major and Minor and prints as "2.0".
func psVersionTable(version string) any {
	if version == "" {
		version = "2.0"
	}
	if version == "1.0" {
		return nil
	}
	major, minor, _ := strings.Cut(version, ".")
	v := NewObject("System.Version")
	v.Set("Major", atoiOr(major))
	v.Set("Minor", atoiOr(minor))
	v.Text = version
	t := NewObject("System.Collections.Hashtable")
	t.Set("PSVersion", v)
	t.Set("CLRVersion", map[string]string{"2.0": "2.0.50727.5485", "5.1": "4.0.30319.42000"}[version])
	return t
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}
