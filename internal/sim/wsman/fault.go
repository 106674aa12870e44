package wsman

import (
	"fmt"
	"strings"
)

// Fault is a WS-Management fault, sent with HTTP 500.
type Fault struct {
	// Code is s:Sender or s:Receiver.
	Code string
	// Subcode is the w: subcode, e.g. w:TimedOut.
	Subcode string
	// Reason is the human text (Windows ends it with a space or two).
	Reason string
	// WSManCode is the WSManFault Code attribute.
	WSManCode uint32
	// Detail is an optional w:FaultDetail URI.
	Detail string
	// Provider marks faults raised by the cmd shell plugin (their message is wrapped in f:ProviderFault).
	Provider bool
}

// Error describes the fault for logs.
func (f *Fault) Error() string {
	return fmt.Sprintf("WS-Management fault %s (%d): %s", f.Subcode, f.WSManCode, strings.TrimSpace(f.Reason))
}

const faultDetailBase = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"

func faultTimedOut() *Fault {
	return &Fault{Code: "s:Receiver", Subcode: "w:TimedOut", WSManCode: 2150858793,
		Reason: "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "}
}

func faultUnknownCommand() *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:InvalidSelectors", WSManCode: 2150858843,
		Detail: faultDetailBase + "UnexpectedSelectors",
		Reason: "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. The command identifier does not exist.  "}
}

func faultUnknownShell() *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:InvalidSelectors", WSManCode: 2150858843,
		Detail: faultDetailBase + "UnexpectedSelectors",
		Reason: "The request for the Windows Remote Shell with ShellId was not found on the server.  "}
}

func faultInvalidParameter() *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:InvalidParameter", WSManCode: 87, Provider: true,
		Detail: faultDetailBase + "InvalidValue", Reason: "The parameter is incorrect. "}
}

func faultTooLong() *Fault {
	return &Fault{Code: "s:Receiver", Subcode: "w:InternalError", WSManCode: 2147942606, Provider: true,
		Reason: "The filename or extension is too long. "}
}

func faultFileNotFound() *Fault {
	return &Fault{Code: "s:Receiver", Subcode: "w:InternalError", WSManCode: 2147942402, Provider: true,
		Reason: "The system cannot find the file specified. "}
}

func faultQuota(limit int) *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:QuotaLimit", WSManCode: 2150859173,
		Reason: fmt.Sprintf("The WS-Management service cannot process the request. This user is allowed a maximum number of %d concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user.  ", limit)}
}

func faultTooManyCommands() *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:QuotaLimit", WSManCode: 2150859174,
		Reason: "The WS-Management service cannot process the request. This shell is allowed a maximum number of 1 concurrent commands, which has been exceeded.  "}
}

func faultDestinationUnreachable() *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:DestinationUnreachable", WSManCode: 2150858770,
		Detail: faultDetailBase + "InvalidResourceURI",
		Reason: "The WS-Management service cannot process the request. The resource URI does not support the operation.  "}
}

func faultActionNotSupported(action string) *Fault {
	return &Fault{Code: "s:Sender", Subcode: "a:ActionNotSupported", WSManCode: 2150858771,
		Reason: fmt.Sprintf("The action %s is not supported by the service.  ", action)}
}

func faultSchema(err error) *Fault {
	return &Fault{Code: "s:Sender", Subcode: "w:SchemaValidationError", WSManCode: 2150858817,
		Reason: "The SOAP XML in the message does not match the corresponding XML schema definition. " + err.Error() + "  "}
}

// faultEnvelope renders a fault the way Windows does (namespaces s a x e n w p, f declared locally).
func faultEnvelope(relatesTo, machine string, f *Fault) []byte {
	var sb strings.Builder
	sb.WriteString(`<s:Fault><s:Code><s:Value>` + f.Code + `</s:Value><s:Subcode><s:Value>` + f.Subcode + `</s:Value></s:Subcode></s:Code>`)
	sb.WriteString(`<s:Reason><s:Text xml:lang="en-US">` + esc(f.Reason) + `</s:Text></s:Reason><s:Detail>`)
	if f.Detail != "" {
		sb.WriteString(`<w:FaultDetail>` + f.Detail + `</w:FaultDetail>`)
	}
	sb.WriteString(fmt.Sprintf(`<f:WSManFault xmlns:f="%s" Code="%d" Machine="%s"><f:Message>`, nsFault, f.WSManCode, esc(machine)))
	if f.Provider {
		sb.WriteString(`<f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\system32\winrscmd.dll">` + esc(f.Reason) + `</f:ProviderFault>`)
	} else {
		sb.WriteString(esc(f.Reason))
	}
	sb.WriteString(`</f:Message></f:WSManFault></s:Detail></s:Fault>`)
	return envelope(ActionFault, relatesTo, sb.String(), true, false, true)
}
