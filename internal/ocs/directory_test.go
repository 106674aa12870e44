package ocs

import (
	"errors"
	"strings"
	"testing"
)

func TestDirectoryErrorRecognisesTheDirectorysRefusal(t *testing.T) {
	tests := map[string]struct {
		op, message string
		want        bool
	}{
		"WMI listing refused":              {OpListUsers, "Get-WmiObject : Access denied", true},
		"wrapped at the console width":     {OpListHomedUsers, "Get-WmiObject : Access\r\n   denied", true},
		"Skype for Business AD refusal":    {OpMoveUsers, `Move-CsUser : Active Directory operation failed on "dc01.corp.example.com". You cannot retry this operation: "Access is denied."`, true},
		"missing AD rights":                {OpMoveUsers, `Active Directory operation failed on DC1: "Insufficient access rights to perform the operation"`, true},
		"an unknown class is not a denial": {OpListUsers, "Get-WmiObject : Invalid class", false},
		"an export's denied file is not":   {OpExportContacts, "Access is denied.", false},
		"an import's denied file is not":   {OpImportContacts, "Access is denied.", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ce := &CommandError{Server: "ocs1", Op: tt.op, ExitCode: 1, Message: tt.message}
			err := directoryError(tt.op, ce)
			if got := errors.Is(err, ErrDirectoryAccessDenied); got != tt.want {
				t.Fatalf("errors.Is(ErrDirectoryAccessDenied) = %v, want %v", got, tt.want)
			}
			var as *CommandError
			if !errors.As(err, &as) || as != ce || !strings.HasSuffix(err.Error(), ce.Error()) {
				t.Fatalf("the CommandError is lost: %v", err)
			}
			if tt.want && !strings.HasPrefix(err.Error(), "directory access denied: ") {
				t.Fatalf("the refusal is not named: %v", err)
			}
		})
	}
	if !DirectoryDenied(`Exception calling "Put" with "0" argument(s): "Access denied "`) || DirectoryDenied("The move failed") {
		t.Fatal("DirectoryDenied")
	}
}
