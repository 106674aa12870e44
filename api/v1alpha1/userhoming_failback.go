package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// UnmarshalJSON reads either form of spec.failback: the mode alone ("Manual") or the object. It
// never fails: a value it cannot read would make the whole UserHoming unreadable, so what is wrong
// goes into Problem for the controller to report, and the mode stays empty (Manual, the safe
// reading).
func (f *FailbackSpec) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	*f = FailbackSpec{}
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var mode string
		if err := json.Unmarshal(data, &mode); err != nil {
			f.Problem = fmt.Sprintf("spec.failback %s is not a string", data)
			return nil
		}
		f.Mode = FailbackMode(mode)
		return nil
	case len(data) > 0 && data[0] == '{':
		f.readObject(data)
		return nil
	}
	f.Problem = fmt.Sprintf("spec.failback must be Automatic, Manual or {mode, stableFor}, not %.40s", data)
	return nil
}

// readObject reads the object form, recording the first problem.
func (f *FailbackSpec) readObject(data []byte) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		f.Problem = "spec.failback is not a valid object"
		return
	}
	var unknown []string
	for key, raw := range fields {
		var s string
		target := map[string]*string{"mode": (*string)(&f.Mode), "stableFor": &f.StableFor}[key]
		if target == nil {
			unknown = append(unknown, key)
			continue
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			f.Problem = fmt.Sprintf("spec.failback.%s must be a string, not %.40s", key, raw)
			continue
		}
		*target = s
	}
	if len(unknown) > 0 && f.Problem == "" {
		slices.Sort(unknown)
		f.Problem = fmt.Sprintf("spec.failback has unknown fields %s: it takes mode and stableFor", strings.Join(unknown, ", "))
	}
	if f.Problem != "" {
		// Nothing misread is acted on: the mode falls back to Manual.
		f.Mode = ""
	}
}

// MarshalJSON writes the short form when only the mode is set, so that an object read and
// written back keeps the form most manifests use.
func (f FailbackSpec) MarshalJSON() ([]byte, error) {
	if f.StableFor == "" {
		if f.Mode == "" {
			return []byte("null"), nil
		}
		return json.Marshal(string(f.Mode))
	}
	return json.Marshal(struct {
		Mode      FailbackMode `json:"mode,omitempty"`
		StableFor string       `json:"stableFor,omitempty"`
	}{f.Mode, f.StableFor})
}
