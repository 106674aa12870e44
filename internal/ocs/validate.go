package ocs

import (
	"fmt"
	"regexp"
	"strings"
)

// maxSIPLength bounds a SIP address; longer values are refused before anything is sent.
const maxSIPLength = 256

var (
	// sipPattern is the address shape the agent sends: RFC 3261's user part without the
	// characters PowerShell or a tool's argument parser would read as syntax ($ ` ; & " and
	// space), so an apostrophe (sip:o'brien@…) passes. SIP addresses always travel as data (the
	// upload), and WQL filters escape them on the server (wqlEscapeSIP).
	sipPattern  = regexp.MustCompile(`^sip:[A-Za-z0-9._%+\-'!~*()=?/,]+@[A-Za-z0-9.\-]+$`)
	fqdnPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$`)
	// serviceNamePattern accepts Windows service short names such as RtcSrv or MSSQL$RTC.
	serviceNamePattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,80}(?:\$[A-Za-z0-9_\-]{1,80})?$`)
)

// ValidateSIP reports whether sip is a SIP address the agent may send to a server. Addresses
// that fail are reported failed per user and never sent.
func ValidateSIP(sip string) error {
	if len(sip) > maxSIPLength {
		return fmt.Errorf("%w: SIP address longer than %d characters", ErrInvalidArgument, maxSIPLength)
	}
	if !sipPattern.MatchString(sip) {
		return fmt.Errorf("%w: %q is not a valid SIP address", ErrInvalidArgument, sip)
	}
	return nil
}

// ValidateFQDN reports whether s is a DNS name safe to place on a command line.
func ValidateFQDN(s string) error {
	if len(s) == 0 || len(s) > 253 || !fqdnPattern.MatchString(s) {
		return fmt.Errorf("%w: %q is not a valid FQDN", ErrInvalidArgument, s)
	}
	return nil
}

// validateServiceName reports whether s is a service short name safe to place on a command line.
func validateServiceName(s string) error {
	if !serviceNamePattern.MatchString(s) {
		return fmt.Errorf("%w: %q is not a valid service name", ErrInvalidArgument, s)
	}
	return nil
}

// QuotePS returns s as a PowerShell single-quoted literal. It is the only way a value is pasted
// into a script. PowerShell also ends single-quoted strings at the typographic quotes
// U+2018..U+201B, so those are doubled too; control characters are refused.
func QuotePS(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) || r == 0x2028 || r == 0x2029:
			return "", fmt.Errorf("%w: control character in value", ErrInvalidArgument)
		case r == '\'' || (r >= 0x2018 && r <= 0x201B):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}
