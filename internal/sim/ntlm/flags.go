package ntlm

// NegotiateFlags bits of MS-NLMP 2.2.2.5.
const (
	NegotiateUnicode                 uint32 = 0x00000001
	NegotiateOEM                     uint32 = 0x00000002
	RequestTarget                    uint32 = 0x00000004
	NegotiateSign                    uint32 = 0x00000010
	NegotiateSeal                    uint32 = 0x00000020
	NegotiateDatagram                uint32 = 0x00000040
	NegotiateLMKey                   uint32 = 0x00000080
	NegotiateNTLM                    uint32 = 0x00000200
	NegotiateAnonymous               uint32 = 0x00000800
	NegotiateOEMDomainSupplied       uint32 = 0x00001000
	NegotiateOEMWorkstationSupplied  uint32 = 0x00002000
	NegotiateAlwaysSign              uint32 = 0x00008000
	TargetTypeDomain                 uint32 = 0x00010000
	TargetTypeServer                 uint32 = 0x00020000
	NegotiateExtendedSessionSecurity uint32 = 0x00080000
	NegotiateIdentify                uint32 = 0x00100000
	RequestNonNTSessionKey           uint32 = 0x00400000
	NegotiateTargetInfo              uint32 = 0x00800000
	NegotiateVersion                 uint32 = 0x02000000
	Negotiate128                     uint32 = 0x20000000
	NegotiateKeyExch                 uint32 = 0x40000000
	Negotiate56                      uint32 = 0x80000000
)

// AV_PAIR ids of MS-NLMP 2.2.2.1.
const (
	avEOL             uint16 = 0
	avNbComputerName  uint16 = 1
	avNbDomainName    uint16 = 2
	avDNSComputerName uint16 = 3
	avDNSDomainName   uint16 = 4
	avFlags           uint16 = 6
	avTimestamp       uint16 = 7
)

// avFlagMICPresent is the MsvAvFlags bit saying the AUTHENTICATE_MESSAGE carries a MIC.
const avFlagMICPresent uint32 = 0x00000002
