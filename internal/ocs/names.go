package ocs

import "strings"

// Operation names: they name an operation in errors and metrics, and select calls and injected
// failures on the Fake.
const (
	OpServiceHealth       = "ServiceHealth"
	OpListUsers           = "ListUsers"
	OpListHomedUsers      = "ListHomedUsers"
	OpMoveUsers           = "MoveUsers"
	OpExportContacts      = "ExportContacts"
	OpImportContacts      = "ImportContacts"
	OpExportConfiguration = "ExportConfiguration"
	OpPreflight           = "Preflight"
)

// DefaultService is the front-end service checked by default on both products.
const DefaultService = "RtcSrv"

// userAtHost strips the "sip:" prefix (any case).
func userAtHost(sip string) string {
	if len(sip) >= 4 && strings.EqualFold(sip[:4], "sip:") {
		return sip[4:]
	}
	return sip
}
