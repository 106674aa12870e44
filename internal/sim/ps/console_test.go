package ps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// sleepLog is a SleepFunc that returns at once and notes each requested duration.
type sleepLog struct{ slept []time.Duration }

func (l *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	l.slept = append(l.slept, d)
	return ctx.Err()
}

func TestConsoleCmdlets(t *testing.T) {
	tests := []struct {
		name, script, want string
		code               int
		slept              []time.Duration
	}{
		// Write-Host ends its line with a bare LF; formatted output ends lines with CRLF.
		{"write-host word", `Write-Host hi`, "hi\n", 0, nil},
		{"write-host words joined by spaces", `Write-Host hi again`, "hi again\n", 0, nil},
		{"write-host unicode", `Write-Host こんにちは`, "こんにちは\n", 0, nil},
		{"write-host quoted, statements on one line", `Write-Host "output 1";Write-Host "output 2";`, "output 1\noutput 2\n", 0, nil},
		{"write-host no arguments", `Write-Host`, "\n", 0, nil},
		{"write-host array flattened", `Write-Host @(1,2) 3`, "1 2 3\n", 0, nil},
		{"write-host separator", `Write-Host -Separator ',' a b @('c','d')`, "a,b,c,d\n", 0, nil},
		{"write-host object parameter", `Write-Host -Object 'x' -ForegroundColor Red`, "x\n", 0, nil},
		{"write-host no newline", `Write-Host -NoNewline a; Write-Host b`, "ab\n", 0, nil},
		{"write-host pipeline input one per line", `'a','b' | Write-Host`, "a\nb\n", 0, nil},
		{"write-host bypasses assignment", "$x = Write-Host hi; 'after'", "hi\nafter\r\n", 0, nil},
		{"write-host after output keeps order", `'a'; Write-Host b; 'c'`, "a\r\nb\nc\r\n", 0, nil},
		{"pwd path", `(pwd).Path`, "C:\\Windows\r\n", 0, nil},
		{"get-location path", `(Get-Location).Path`, "C:\\Windows\r\n", 0, nil},
		{"gl alias", `(gl).Path`, "C:\\Windows\r\n", 0, nil},
		{"pwd as string", `'at ' + (pwd)`, "at C:\\Windows\r\n", 0, nil},
		{"pwd member in variable", `$l = Get-Location; $l.Drive + '|' + $l.ProviderPath`, "C|C:\\Windows\r\n", 0, nil},
		{"pwd output is a table", `pwd`, "\r\nPath\r\n----\r\nC:\\Windows\r\n\r\n\r\n", 0, nil},
		{"start-sleep positional seconds", `Start-Sleep 30`, "", 0, []time.Duration{30 * time.Second}},
		{"start-sleep seconds", `Start-Sleep -Seconds 2`, "", 0, []time.Duration{2 * time.Second}},
		{"start-sleep seconds prefix", `Start-Sleep -s 2`, "", 0, []time.Duration{2 * time.Second}},
		{"start-sleep milliseconds", `Start-Sleep -Milliseconds 250`, "", 0, []time.Duration{250 * time.Millisecond}},
		{"start-sleep milliseconds prefix", `Start-Sleep -m 5`, "", 0, []time.Duration{5 * time.Millisecond}},
		{"start-sleep zero does not wait", `Start-Sleep 0`, "", 0, nil},
		{"start-sleep between writes", `Write-Host hi; Start-Sleep 30; Write-Host hi again`, "hi\nhi again\n", 0, []time.Duration{30 * time.Second}},
		{"start-sleep negative", "Start-Sleep -Seconds -1\n'next'", "next\r\n", 1, nil},
		{"start-sleep too long", "Start-Sleep 2147484", "", 1, nil},
		{"start-sleep not a number", "Start-Sleep soon\n'next'", "next\r\n", 1, nil},
		{"start-sleep missing", "Start-Sleep", "", 1, nil},
		{"start-sleep both units", "Start-Sleep -Seconds 1 -Milliseconds 1", "", 1, nil},
		{"start-sleep error is catchable", "try { Start-Sleep -1 } catch { $_.Exception.Message }",
			"Cannot validate argument on parameter 'Seconds'. The -1 argument is less than the minimum allowed range of 0. " +
				"Supply an argument that is greater than or equal to 0 and then try the command again.\r\n", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &sleepLog{}
			var out, errb bytes.Buffer
			s := &Session{FS: winfs.New(), Env: map[string]string{}, Dir: `C:\Windows`, Cmdlets: Builtins(), Sleep: log.sleep}
			code := Run(context.Background(), s, tt.script, &out, &errb)
			if out.String() != tt.want || code != tt.code {
				t.Errorf("got %q code %d (stderr %q), want %q code %d", out.String(), code, errb.String(), tt.want, tt.code)
			}
			if fmt.Sprint(log.slept) != fmt.Sprint(tt.slept) {
				t.Errorf("slept %v, want %v", log.slept, tt.slept)
			}
		})
	}
}

func TestStartSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The command is stopped while it sleeps: the sleep ends and nothing after it runs.
	stopper := func(ctx context.Context, _ time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	var out, errb bytes.Buffer
	s := &Session{FS: winfs.New(), Env: map[string]string{}, Cmdlets: Builtins(), Sleep: stopper}
	code := Run(ctx, s, "Write-Host a; Start-Sleep 30; Write-Host b", &out, &errb)
	if code != 1 || out.String() != "a\n" || !strings.Contains(errb.String(), "The pipeline has been stopped.") {
		t.Errorf("got %q code %d stderr %q", out.String(), code, errb.String())
	}
}

func TestSleepTimerHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepTimer(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepTimer on a stopped context: %v", err)
	}
	if err := sleepTimer(context.Background(), time.Nanosecond); err != nil {
		t.Errorf("sleepTimer: %v", err)
	}
}

func TestRunLines(t *testing.T) {
	long := "if ($true) {\n" + strings.Repeat("'x'\n", 2000) + "}\n'end'\n"
	tests := []struct {
		name, stdin, want string
		code              int
	}{
		{"recorded send, no newline", `Write-Host "output 1";Write-Host "output 2";`, "output 1\noutput 2\n", 0},
		{"variables carry over lines", "$a = 'x'\r\n$a\r\n", "x\r\n", 0},
		{"open block takes the next lines", "if ($true) {\n  'in'\n}\n'after'\n", "in\r\nafter\r\n", 0},
		{"open string takes the next line", "'a\nb'\n", "a\nb\r\n", 0},
		{"error does not stop the next line", "Get-Nothing\n'after'\n", "after\r\n", 1},
		{"parse error does not stop the next line", "$true = 1\n'after'\n", "after\r\n", 1},
		{"open block at EOF is a parse error", "'before'\nif ($true) {\n'x'\n", "before\r\n", 1},
		{"exit ends", "'a'\nexit 4\n'b'\n", "a\r\n", 4},
		{"byte-order mark", "\uFEFF'bom'\n", "bom\r\n", 0},
		{"empty", "", "", 0},
		{"long open block", long, strings.Repeat("x\r\n", 2000) + "end\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			s := &Session{FS: winfs.New(), Env: map[string]string{}, Cmdlets: Builtins()}
			code := RunLines(context.Background(), s, strings.NewReader(tt.stdin), &out, &errb)
			if out.String() != tt.want || code != tt.code {
				t.Errorf("got %q code %d (stderr %q), want %q code %d", out.String(), code, errb.String(), tt.want, tt.code)
			}
		})
	}
}

// TestRunLinesStreams checks that a line runs as soon as it has arrived, before stdin ends.
func TestRunLinesStreams(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		s := &Session{FS: winfs.New(), Env: map[string]string{}, Cmdlets: Builtins()}
		done <- RunLines(context.Background(), s, inR, outW, io.Discard)
		_ = outW.Close()
	}()
	read := func(want string) {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, len(want))
			_, err := io.ReadFull(outR, buf)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(buf)
		}()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("read %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no output %q while stdin stays open", want)
		}
	}
	if _, err := io.WriteString(inW, "Write-Host one\n"); err != nil {
		t.Fatal(err)
	}
	read("one\n")
	if _, err := io.WriteString(inW, "Write-Host two\n"); err != nil {
		t.Fatal(err)
	}
	read("two\n")
	_ = inW.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunLines did not end at EOF")
	}
}

func TestProgramRecordedCommands(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"positional command", []string{"Write-Host", "hi"}, "", "hi\n"},
		{"positional command in one argument", []string{"Write-Host hi; Start-Sleep 30; Write-Host hi again"}, "", "hi\nhi again\n"},
		{"unicode", []string{"Write-Host こんにちは"}, "", "こんにちは\n"},
		{"working directory", []string{"(pwd).Path"}, "", "C:\\Windows\r\n"},
		{"script on stdin", []string{"-"}, `Write-Host "output 1";Write-Host "output 2";`, "output 1\noutput 2\n"},
		{"-Command - reads lines", []string{"-NoProfile", "-Command", "-"}, "$a = 'x'\n$a\n", "x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &sleepLog{}
			var out, errb bytes.Buffer
			p := &cmdexe.Proc{Name: "powershell.exe", Args: tt.args, Stdin: strings.NewReader(tt.stdin), Stdout: &out,
				Stderr: &errb, FS: winfs.New(), Env: map[string]string{}, Dir: `C:\Windows`}
			code := NewProgram(ProgramConfig{Sleep: log.sleep})(context.Background(), p)
			if code != 0 || out.String() != tt.want || errb.Len() != 0 {
				t.Errorf("got %q code %d stderr %q, want %q", out.String(), code, errb.String(), tt.want)
			}
		})
	}
}

// TestRunLinesLongStatementStreams checks that a long open statement runs once its last line has
// arrived, while stdin stays open (a persistent process waits for its requests this way).
func TestRunLinesLongStatementStreams(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go func() {
		s := &Session{FS: winfs.New(), Env: map[string]string{}, Cmdlets: Builtins()}
		RunLines(context.Background(), s, inR, outW, io.Discard)
		_ = outW.Close()
	}()
	defer func() { _ = inW.Close() }()
	req := "try {\n$d = ''\n" + strings.Repeat("$d = $d + '"+strings.Repeat("A", 1000)+"'\n", 50) +
		"'len ' + $d.Length\n} catch {\n'failed'\n}\n\n"
	go func() { _, _ = io.WriteString(inW, req) }()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, len("len 50000\r\n"))
		_, err := io.ReadFull(outR, buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf)
	}()
	select {
	case g := <-got:
		if g != "len 50000\r\n" {
			t.Fatalf("read %q", g)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a long statement did not run while stdin stays open")
	}
}
