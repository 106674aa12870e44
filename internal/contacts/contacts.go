package contacts

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Namespace is the default XML namespace of a dbimpexp homed-resources document.
const Namespace = "http://schemas.microsoft.com/RtcServer/2002/11/dbimpexp"

// Well-known access-control container numbers.
const (
	ContainerExternal         = 100
	ContainerColleagues       = 200
	ContainerWorkgroup        = 300
	ContainerFriendsAndFamily = 400
	ContainerBlocked          = 32000
)

// Resource is one user's homed data: contact groups, contacts and access-control containers.
type Resource struct {
	// UserAtHost is the user's SIP address without the "sip:" prefix.
	UserAtHost string
	Groups     []Group
	Contacts   []Contact
	Containers []Container
}

// Group is a contact group. DisplayName and ExternalURI are kept base64-encoded, as stored.
type Group struct {
	Number      int
	DisplayName string
	ExternalURI string
}

// Contact is one entry of a contact list.
type Contact struct {
	// Buddy is the contact's address as stored, normally user@domain without "sip:".
	Buddy             string
	SubscribePresence bool
	// Groups lists the numbers of the groups the contact belongs to.
	Groups []int
	// DisplayName is base64-encoded as stored; empty when absent.
	DisplayName string
}

// Container is an access-control container (see the Container* constants) and its members.
type Container struct {
	Number int
	// Members are member URIs as stored, normally "sip:user@domain".
	Members []string
}

// Document is a set of homed resources, in document order.
type Document struct {
	Resources []Resource
}

// Count returns the number of contacts of the resource.
func (r Resource) Count() int { return len(r.Contacts) }

// xml shapes shared by the dbimpexp and DocItemSet flavours. Tags name local names only, so that
// any namespace is accepted on input.
type xmlResource struct {
	UserAtHost string         `xml:"UserAtHost,attr"`
	Groups     []xmlGroup     `xml:"ContactGroups>ContactGroup"`
	Contacts   []xmlContact   `xml:"Contacts>Contact"`
	Containers []xmlContainer `xml:"Containers>Container"`
}

type xmlGroup struct {
	Number      string `xml:"Number,attr"`
	DisplayName string `xml:"DisplayName,attr"`
	ExternalURI string `xml:"ExternalUri,attr"`
}

type xmlContact struct {
	Buddy             string `xml:"Buddy,attr"`
	SubscribePresence string `xml:"SubscribePresence,attr"`
	Groups            string `xml:"Groups,attr"`
	DisplayName       string `xml:"DisplayName,attr"`
}

type xmlContainer struct {
	Number  string      `xml:"ContainerNumber,attr"`
	Members []xmlMember `xml:"UserMember"`
}

type xmlMember struct {
	Member string `xml:"Member,attr"`
}

// ParseHomedResources parses a dbimpexp homed-resources document encoded as UTF-16 (LE or BE,
// with or without BOM) or UTF-8.
func ParseHomedResources(data []byte) (*Document, error) {
	return ParseHomedResourcesFrom(bytes.NewReader(data))
}

// MarshalHomedResources writes doc as dbimpexp writes it: UTF-16LE with a BOM, CRLF line ends and
// an XML declaration naming utf-16. Each resource is rendered as UTF-8 into a scratch buffer
// that stays in cache and transcoded from there into an output sized once: an export of
// thousands of users is tens of megabytes, and each regrowth or intermediate copy of it costs.
func MarshalHomedResources(doc *Document) ([]byte, error) {
	var res []Resource
	if doc != nil {
		res = doc.Resources
	}
	for _, r := range res {
		if err := checkResource(r); err != nil {
			return nil, err
		}
	}
	const head = `<?xml version="1.0" encoding="utf-16"?>` + "\r\n" + `<HomedResources xmlns="` + Namespace + `">` + "\r\n"
	const tail = "</HomedResources>\r\n"
	size := len(head) + len(tail)
	for _, r := range res {
		size += resourceSize(r, len("  "))
	}
	// Each UTF-8 byte becomes at most one UTF-16 unit: twice the UTF-8 size bounds the output.
	out := make([]byte, 0, 2+2*size)
	out = append(out, 0xFF, 0xFE)
	out = appendUTF16LE(out, []byte(head))
	var scratch []byte
	for _, r := range res {
		scratch = appendResource(scratch[:0], r, "  ", "", true)
		out = appendUTF16LE(out, scratch)
	}
	return appendUTF16LE(out, []byte(tail)), nil
}

// MarshalResource returns canonical bytes of one user's data: a compact UTF-8 HomedResource
// element in the dbimpexp namespace. Equal resources give equal bytes.
func MarshalResource(r Resource) []byte {
	return appendResource(make([]byte, 0, resourceSize(r, 0)+len(Namespace)+16), r, "", Namespace, true)
}

// UnmarshalResource parses bytes written by MarshalResource.
func UnmarshalResource(data []byte) (Resource, error) {
	r, err := unmarshalResource(data)
	if err != nil {
		return Resource{}, fmt.Errorf("parsing resource: %w", err)
	}
	return r, nil
}

func unmarshalResource(data []byte) (Resource, error) {
	d, err := newDecoder(bytes.NewReader(data))
	if err != nil {
		return Resource{}, err
	}
	root, err := rootElement(d)
	if err != nil {
		return Resource{}, err
	}
	if root.Name.Local != "HomedResource" {
		return Resource{}, fmt.Errorf("root element is %q, want HomedResource", root.Name.Local)
	}
	r, err := decodeResource(d, root)
	if err != nil {
		return Resource{}, err
	}
	return r, trailer(d)
}

func fromXML(xr xmlResource) (Resource, error) {
	r := Resource{UserAtHost: xr.UserAtHost}
	for _, g := range xr.Groups {
		n, err := parseNumber(g.Number)
		if err != nil {
			return Resource{}, fmt.Errorf("group number: %w", err)
		}
		r.Groups = append(r.Groups, Group{Number: n, DisplayName: g.DisplayName, ExternalURI: g.ExternalURI})
	}
	for _, c := range xr.Contacts {
		sub, err := parseFlag(c.SubscribePresence)
		if err != nil {
			return Resource{}, fmt.Errorf("contact %q: SubscribePresence: %w", c.Buddy, err)
		}
		var groups []int
		for _, f := range strings.Fields(c.Groups) {
			n, err := parseNumber(f)
			if err != nil {
				return Resource{}, fmt.Errorf("contact %q: groups: %w", c.Buddy, err)
			}
			groups = append(groups, n)
		}
		r.Contacts = append(r.Contacts, Contact{Buddy: c.Buddy, SubscribePresence: sub, Groups: groups, DisplayName: c.DisplayName})
	}
	for _, c := range xr.Containers {
		n, err := parseNumber(c.Number)
		if err != nil {
			return Resource{}, fmt.Errorf("container number: %w", err)
		}
		ct := Container{Number: n}
		for _, m := range c.Members {
			ct.Members = append(ct.Members, m.Member)
		}
		r.Containers = append(r.Containers, ct)
	}
	return r, nil
}

func parseNumber(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return int(n), nil
}

func parseFlag(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		return true, nil
	case "0", "false", "":
		return false, nil
	}
	return false, fmt.Errorf("invalid flag %q", s)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// checkResource refuses values that XML cannot carry, so that a marshalled document always parses
// back to the same values.
func checkResource(r Resource) error {
	check := func(what, s string) error {
		if !validXMLString(s) {
			return fmt.Errorf("resource %q: %s contains characters XML cannot carry", r.UserAtHost, what)
		}
		return nil
	}
	if err := check("UserAtHost", r.UserAtHost); err != nil {
		return err
	}
	for _, g := range r.Groups {
		if err := errors.Join(check("group display name", g.DisplayName), check("group external URI", g.ExternalURI)); err != nil {
			return err
		}
	}
	for _, c := range r.Contacts {
		if err := errors.Join(check("buddy", c.Buddy), check("contact display name", c.DisplayName)); err != nil {
			return err
		}
	}
	for _, c := range r.Containers {
		for _, m := range c.Members {
			if err := check("container member", m); err != nil {
				return err
			}
		}
	}
	return nil
}

func validXMLString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// appendResource appends one HomedResource element to b. indent "" writes it compactly; xmlns,
// when set, is declared on the element; withUser writes the UserAtHost attribute.
func appendResource(b []byte, r Resource, indent, xmlns string, withUser bool) []byte {
	var f layout
	if indent != "" {
		f = layout{nl: "\r\n", in1: indent, in2: indent + "  ", in3: indent + "    "}
	}
	b = append(append(b, f.in1...), "<HomedResource"...)
	if xmlns != "" {
		b = append(appendAttr(append(b, ` xmlns="`...), xmlns), '"')
	}
	if withUser {
		b = append(appendAttr(append(b, ` UserAtHost="`...), r.UserAtHost), '"')
	}
	b = append(append(b, '>'), f.nl...)
	b = appendGroups(b, r.Groups, f)
	b = appendContacts(b, r.Contacts, f)
	b = appendContainers(b, r.Containers, f)
	return append(append(append(b, f.in1...), "</HomedResource>"...), f.nl...)
}

// layout is the line end and the three indents of a HomedResource element ("" when compact).
type layout struct{ nl, in1, in2, in3 string }

// open appends the start of a list element at the second indent, or its empty form.
func (f layout) open(b []byte, name string, empty bool) []byte {
	b = append(append(append(b, f.in2...), '<'), name...)
	if empty {
		return append(append(b, " />"...), f.nl...)
	}
	return append(append(b, '>'), f.nl...)
}

func (f layout) close(b []byte, name string) []byte {
	return append(append(append(append(append(b, f.in2...), "</"...), name...), '>'), f.nl...)
}

func appendGroups(b []byte, groups []Group, f layout) []byte {
	b = f.open(b, "ContactGroups", len(groups) == 0)
	if len(groups) == 0 {
		return b
	}
	for _, g := range groups {
		b = append(append(b, f.in3...), `<ContactGroup Number="`...)
		b = strconv.AppendInt(b, int64(g.Number), 10)
		b = appendAttr(append(b, `" DisplayName="`...), g.DisplayName)
		b = appendAttr(append(b, `" ExternalUri="`...), g.ExternalURI)
		b = append(append(b, `" />`...), f.nl...)
	}
	return f.close(b, "ContactGroups")
}

func appendContacts(b []byte, contacts []Contact, f layout) []byte {
	b = f.open(b, "Contacts", len(contacts) == 0)
	if len(contacts) == 0 {
		return b
	}
	for _, c := range contacts {
		b = appendAttr(append(append(b, f.in3...), `<Contact Buddy="`...), c.Buddy)
		b = append(append(append(b, `" SubscribePresence="`...), flag(c.SubscribePresence)...), `" Groups="`...)
		for i, g := range c.Groups {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(b, '"')
		if c.DisplayName != "" {
			b = append(append(append(b, ' '), contactDisplayNameAttr...), `="`...)
			b = append(appendAttr(b, c.DisplayName), '"')
		}
		b = append(append(b, " />"...), f.nl...)
	}
	return f.close(b, "Contacts")
}

func appendContainers(b []byte, containers []Container, f layout) []byte {
	b = f.open(b, "Containers", len(containers) == 0)
	if len(containers) == 0 {
		return b
	}
	for _, c := range containers {
		b = append(append(b, f.in3...), `<Container ContainerNumber="`...)
		b = append(strconv.AppendInt(b, int64(c.Number), 10), '"')
		if len(c.Members) == 0 {
			b = append(append(b, " />"...), f.nl...)
			continue
		}
		b = append(b, '>')
		for _, m := range c.Members {
			b = append(appendAttr(append(b, `<UserMember Member="`...), m), `" />`...)
		}
		b = append(append(b, "</Container>"...), f.nl...)
	}
	return f.close(b, "Containers")
}

// resourceSize is about the UTF-8 length of appendResource's output at the given base indent
// (an overestimate unless values need escaping), so that one allocation usually holds it.
func resourceSize(r Resource, indent int) int {
	const tags = 160 // the element, its three lists and their end tags, compact
	n := tags + 10*(indent+2) + len(r.UserAtHost)
	for _, g := range r.Groups {
		n += indent + 4 + 64 + len(g.DisplayName) + len(g.ExternalURI)
	}
	for _, c := range r.Contacts {
		n += indent + 4 + 80 + 12*len(c.Groups) + len(c.Buddy) + len(c.DisplayName)
	}
	for _, c := range r.Containers {
		n += indent + 4 + 64
		for _, m := range c.Members {
			n += 24 + len(m)
		}
	}
	return n
}

// appendAttr appends s escaped for a double-quoted attribute value, as xml.EscapeText escapes
// it: tabs and line ends become character references so that attribute-value normalisation
// cannot change them. Printable ASCII without markup characters, the usual case, is copied as is.
func appendAttr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\'' || c == '&' || c == '<' || c == '>' {
			buf := bytes.NewBuffer(b)
			_ = xml.EscapeText(buf, []byte(s))
			return buf.Bytes()
		}
	}
	return append(b, s...)
}

// decodeXML transcodes data to UTF-8 and unmarshals it into v.
func decodeXML(data []byte, v any) error {
	text, err := toUTF8(data)
	if err != nil {
		return err
	}
	d := xml.NewDecoder(strings.NewReader(text))
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		// The text is already UTF-8 whatever the declaration says.
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "utf-8", "utf8":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	if err := d.Decode(v); err != nil {
		return err
	}
	// Anything but whitespace, comments or processing instructions after the root is malformed.
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("content after the root element")
		}
	}
}

// toUTF8 detects UTF-16 (by BOM, or by a NUL next to the first '<') and UTF-8, and returns UTF-8.
func toUTF8(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return decodeUTF16(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], true)
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case len(data) >= 2 && data[0] == '<' && data[1] == 0:
		return decodeUTF16(data, false)
	case len(data) >= 2 && data[0] == 0 && data[1] == '<':
		return decodeUTF16(data, true)
	}
	if !utf8.Valid(data) {
		return "", errors.New("invalid UTF-8")
	}
	return string(data), nil
}

func decodeUTF16(data []byte, bigEndian bool) (string, error) {
	if len(data)%2 != 0 {
		return "", errors.New("odd number of bytes in UTF-16 text")
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		} else {
			u[i] = uint16(data[2*i+1])<<8 | uint16(data[2*i])
		}
	}
	return string(utf16.Decode(u)), nil
}

// appendUTF16LE appends the UTF-16LE encoding of UTF-8 text s; an invalid byte becomes U+FFFD,
// as a conversion to []rune makes it.
func appendUTF16LE(out, s []byte) []byte {
	n := len(out)
	out = slices.Grow(out, 2*len(s))[:n+2*len(s)]
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			out[n], out[n+1] = c, 0
			n += 2
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if r >= 0x10000 {
			// A four-byte sequence gives a surrogate pair: four bytes out, no more than in.
			r1, r2 := utf16.EncodeRune(r)
			out[n], out[n+1], out[n+2], out[n+3] = byte(r1), byte(r1>>8), byte(r2), byte(r2>>8)
			n += 4
			continue
		}
		// DecodeRune never returns a surrogate half (it gives U+FFFD for one).
		out[n], out[n+1] = byte(r), byte(r>>8)
		n += 2
	}
	return out[:n]
}
