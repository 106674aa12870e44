package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// UnmarshalJSON reads either form of spec.failback: the mode alone ("Manual") or the object.
func (f *FailbackSpec) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*f = FailbackSpec{}
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var mode string
		if err := json.Unmarshal(data, &mode); err != nil {
			return fmt.Errorf("spec.failback: %w", err)
		}
		*f = FailbackSpec{Mode: FailbackMode(mode)}
		return nil
	}
	type plain FailbackSpec
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("spec.failback must be Automatic, Manual or {mode, stableFor}: %w", err)
	}
	*f = FailbackSpec(p)
	return nil
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
	type plain FailbackSpec
	return json.Marshal(plain(f))
}
