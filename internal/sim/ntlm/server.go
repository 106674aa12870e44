package ntlm

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors a logon fails with. ErrLogonFailure covers both an unknown user and a wrong password, as
// Windows does not tell them apart either.
var (
	ErrLogonFailure = errors.New("logon failure: unknown user name or bad password")
	ErrAnonymous    = errors.New("anonymous NTLM logon refused")
	ErrNTLMv1       = errors.New("NTLMv1 or LM response refused")
	ErrMIC          = errors.New("NTLM message integrity code does not match")
)

// Account is a user that may log on.
type Account struct {
	// Domain is the NetBIOS name of the account's domain; empty for a local account of the host.
	Domain string
	// User is the sAMAccountName; it matches case-insensitively.
	User     string
	Password string
}

// Identity is who a logon authenticated.
type Identity struct {
	// Account is the matched account as configured.
	Account Account
	// Scheme is "NTLM", "Basic" or "CredSSP".
	Scheme string
	// Delegated is true when the logon holds the account's credentials, so that commands can act
	// as the account on a third machine (CredSSP); NTLM and Basic network logons cannot.
	Delegated bool
	// Workstation is the client's name as it sent it in the AUTHENTICATE_MESSAGE (NTLM only).
	Workstation string
}

// Name returns the account as DOMAIN\user, or the bare user name for a local account.
func (id Identity) Name() string {
	if id.Account.Domain == "" {
		return id.Account.User
	}
	return id.Account.Domain + `\` + id.Account.User
}

// Server answers NTLM handshakes for one emulated host. Its fields must not change while in use.
type Server struct {
	// NetBIOSDomain is the TargetName and MsvAvNbDomainName, e.g. "OCSLAB".
	NetBIOSDomain string
	// NetBIOSComputer is MsvAvNbComputerName, e.g. "OCS-FE1"; local accounts also match it as domain.
	NetBIOSComputer string
	// DNSDomain and DNSComputer are MsvAvDnsDomainName and MsvAvDnsComputerName.
	DNSDomain, DNSComputer string
	// Accounts returns the accounts that may log on; it is called once per logon so that accounts
	// and passwords can change at run time.
	Accounts func() []Account
	// Rand supplies server challenges (default crypto/rand).
	Rand io.Reader
	// Now stamps MsvAvTimestamp (default time.Now).
	Now func() time.Time
}

// Handshake is a server waiting for the AUTHENTICATE_MESSAGE that answers its challenge.
type Handshake struct {
	srv             *Server
	negotiate       []byte
	challenge       []byte
	serverChallenge [8]byte
	flags           uint32
}

// ChallengeFlags returns the NegotiateFlags of the CHALLENGE_MESSAGE answering a client that asked
// for clientFlags: what Windows grants of the client's request, plus NTLM, TARGET_INFO, VERSION and
// the domain target type, which it always sets. OEM is chosen only when Unicode is not offered.
func ChallengeFlags(clientFlags uint32) uint32 {
	const echoed = RequestTarget | NegotiateSign | NegotiateSeal | NegotiateAlwaysSign |
		NegotiateExtendedSessionSecurity | Negotiate128 | Negotiate56 | NegotiateIdentify
	f := clientFlags&echoed | NegotiateNTLM | NegotiateTargetInfo | NegotiateVersion | TargetTypeDomain
	if clientFlags&NegotiateUnicode != 0 {
		f |= NegotiateUnicode
	} else {
		f |= NegotiateOEM
	}
	// KEY_EXCH only means something when signing or sealing; go-ntlmssp refuses a challenge that
	// offers it unasked, so it is only ever echoed.
	if clientFlags&NegotiateKeyExch != 0 && clientFlags&(NegotiateSign|NegotiateSeal) != 0 {
		f |= NegotiateKeyExch
	}
	return f
}

// Challenge parses a NEGOTIATE_MESSAGE and returns the CHALLENGE_MESSAGE to send back with the
// handshake that verifies the answer.
func (s *Server) Challenge(negotiate []byte) (*Handshake, []byte, error) {
	neg, err := ParseNegotiate(negotiate)
	if err != nil {
		return nil, nil, err
	}
	h := &Handshake{srv: s, negotiate: neg.Raw, flags: ChallengeFlags(neg.Flags)}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, h.serverChallenge[:]); err != nil {
		return nil, nil, fmt.Errorf("reading server challenge: %w", err)
	}
	h.challenge = challengeMessage(h.flags, s.NetBIOSDomain, h.serverChallenge, s.targetInfo())
	return h, h.challenge, nil
}

// targetInfo lists the AV pairs a domain member server sends, in Windows' order.
func (s *Server) targetInfo() []byte {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := binary.LittleEndian.AppendUint64(nil, filetime(now()))
	return marshalAVPairs([]avPair{
		{avNbDomainName, utf16LE(s.NetBIOSDomain)},
		{avNbComputerName, utf16LE(s.NetBIOSComputer)},
		{avDNSDomainName, utf16LE(s.DNSDomain)},
		{avDNSComputerName, utf16LE(s.DNSComputer)},
		{avTimestamp, ts},
	})
}

// filetime converts t to 100-ns intervals since 1601-01-01 UTC.
func filetime(t time.Time) uint64 {
	const epochDelta = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	return uint64(t.UnixNano()/100) + epochDelta
}

// Authenticate verifies the AUTHENTICATE_MESSAGE answering h's challenge. It returns who logged on
// and, when the client negotiated signing or sealing, the session that protects later messages.
// A Handshake is used once.
func (h *Handshake) Authenticate(msg []byte) (*Session, Identity, error) {
	m, err := ParseAuthenticate(msg)
	if err != nil {
		return nil, Identity{}, err
	}
	if m.Flags&NegotiateAnonymous != 0 || (m.User == "" && len(m.NTResponse) == 0) {
		return nil, Identity{}, ErrAnonymous
	}
	// 24 bytes (or none, with an LM response) is NTLMv1/LM; an NTLMv2 response is NTProofStr (16)
	// plus a blob of at least 28 bytes and an MsvAvEOL.
	if len(m.NTResponse) <= 24 {
		return nil, Identity{}, ErrNTLMv1
	}
	if len(m.NTResponse) < 16+28+4 {
		return nil, Identity{}, fmt.Errorf("NTLMv2 response of %d bytes: %w", len(m.NTResponse), ErrMalformed)
	}
	proof, temp := m.NTResponse[:16], m.NTResponse[16:]
	if temp[0] != 1 || temp[1] != 1 {
		return nil, Identity{}, fmt.Errorf("NTLMv2 response version %d.%d: %w", temp[0], temp[1], ErrMalformed)
	}
	pairs, err := parseAVPairs(temp[28:])
	if err != nil {
		return nil, Identity{}, fmt.Errorf("NTLMv2 response: %w", err)
	}

	var acct Account
	var ntowf []byte
	found := false
	for _, a := range h.srv.candidates(m.User, m.Domain) {
		k := ntowfV2(a.Password, m.User, m.Domain)
		if subtle.ConstantTimeCompare(hmacMD5(k, h.serverChallenge[:], temp), proof) == 1 {
			acct, ntowf, found = a, k, true
			break
		}
	}
	if !found {
		return nil, Identity{}, ErrLogonFailure
	}

	// With NTLMv2 the KeyExchangeKey is the SessionBaseKey (MS-NLMP 3.4.5.1).
	keyExchangeKey := hmacMD5(ntowf, proof)
	exported := keyExchangeKey
	if m.Flags&NegotiateKeyExch != 0 && m.Flags&(NegotiateSign|NegotiateSeal) != 0 {
		if len(m.EncryptedRandomSessionKey) != 16 {
			return nil, Identity{}, fmt.Errorf("encrypted random session key of %d bytes: %w",
				len(m.EncryptedRandomSessionKey), ErrMalformed)
		}
		exported = rc4Once(keyExchangeKey, m.EncryptedRandomSessionKey)
	}

	if v, ok := findAV(pairs, avFlags); ok && len(v) == 4 && binary.LittleEndian.Uint32(v)&avFlagMICPresent != 0 {
		if m.MICOffset == 0 {
			return nil, Identity{}, fmt.Errorf("MIC announced but absent: %w", ErrMalformed)
		}
		zeroed := append([]byte(nil), m.Raw...)
		clear(zeroed[m.MICOffset : m.MICOffset+16])
		want := hmacMD5(exported, h.negotiate, h.challenge, zeroed)
		if subtle.ConstantTimeCompare(want, m.Raw[m.MICOffset:m.MICOffset+16]) != 1 {
			return nil, Identity{}, ErrMIC
		}
	}

	id := Identity{Account: acct, Scheme: "NTLM", Workstation: m.Workstation}
	if m.Flags&(NegotiateSign|NegotiateSeal) == 0 || m.Flags&NegotiateExtendedSessionSecurity == 0 {
		// Without extended session security signing would be NTLMv1-style (CRC32); no client this
		// emulator serves asks for it, so such logons get no session.
		return nil, id, nil
	}
	return newSession(m.Flags, exported, false), id, nil
}

// candidates returns the accounts user in domain (both as the client wrote them) may be. A UPN
// (user@domain with no domain) names the domain in the user field; an empty domain matches
// local accounts first, then domain accounts.
func (s *Server) candidates(user, domain string) []Account {
	if s.Accounts == nil {
		return nil
	}
	if i := strings.LastIndexByte(user, '@'); i >= 0 && domain == "" {
		user, domain = user[:i], user[i+1:]
	}
	var local, dom []Account
	for _, a := range s.Accounts() {
		if !strings.EqualFold(a.User, user) {
			continue
		}
		switch {
		case a.Domain == "" && s.isLocal(domain):
			local = append(local, a)
		case a.Domain != "" && (domain == "" || s.isDomain(a.Domain, domain)):
			dom = append(dom, a)
		}
	}
	return append(local, dom...)
}

// isLocal reports whether domain names the host itself, as a local account's domain may be written.
func (s *Server) isLocal(domain string) bool {
	return domain == "" || domain == "." ||
		(s.NetBIOSComputer != "" && strings.EqualFold(domain, s.NetBIOSComputer)) ||
		(s.DNSComputer != "" && strings.EqualFold(domain, s.DNSComputer))
}

// isDomain reports whether the client's domain names the account's domain, by NetBIOS name or, for
// the host's own domain, by DNS name.
func (s *Server) isDomain(accountDomain, domain string) bool {
	if strings.EqualFold(accountDomain, domain) {
		return true
	}
	return strings.EqualFold(accountDomain, s.NetBIOSDomain) && s.DNSDomain != "" && strings.EqualFold(domain, s.DNSDomain)
}

// BasicLogon verifies Basic credentials. WinRM's Basic scheme only logs on local accounts, written
// as "user", ".\user" or "COMPUTER\user"; a domain account is refused even with the right password.
func (s *Server) BasicLogon(user, password string) (Identity, bool) {
	domain := ""
	if i := strings.IndexByte(user, '\\'); i >= 0 {
		domain, user = user[:i], user[i+1:]
	} else if strings.Contains(user, "@") {
		return Identity{}, false
	}
	if !s.isLocal(domain) || s.Accounts == nil {
		return Identity{}, false
	}
	for _, a := range s.Accounts() {
		if a.Domain == "" && strings.EqualFold(a.User, user) &&
			subtle.ConstantTimeCompare([]byte(a.Password), []byte(password)) == 1 {
			return Identity{Account: a, Scheme: "Basic"}, true
		}
	}
	return Identity{}, false
}
