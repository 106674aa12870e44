package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	tests := map[string]struct {
		template string
		values   map[string]string
		want     string
		wantErr  string
	}{
		"every placeholder filled":      {template: "a: @A@\nb: @B_2@\n", values: map[string]string{"A": "1", "B_2": "two"}, want: "a: 1\nb: two\n"},
		"a value may repeat":            {template: "@A@-@A@", values: map[string]string{"A": "x"}, want: "x-x"},
		"an unfilled placeholder fails": {template: "a: @A@ @MISSING@", values: map[string]string{"A": "1"}, wantErr: "@MISSING@"},
		"lower-case @ text is data":     {template: "user@corp.example.com", want: "user@corp.example.com"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "in.yaml"), filepath.Join(dir, "out.yaml")
			if err := os.WriteFile(src, []byte(tt.template), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Render(src, dst, tt.values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst)
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIndent(t *testing.T) {
	if got := Indent("a\nb\n", "  "); got != "  a\n  b" {
		t.Errorf("Indent = %q", got)
	}
}

func TestFreeConsecutivePorts(t *testing.T) {
	base, err := FreeConsecutivePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if !portsFree(base, 3) {
		t.Errorf("ports %d..%d are not free", base, base+2)
	}
}
