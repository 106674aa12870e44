package contacts

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
// an XML declaration naming utf-16.
func MarshalHomedResources(doc *Document) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-16"?>` + "\r\n")
	b.WriteString(`<HomedResources xmlns="` + Namespace + `">` + "\r\n")
	if doc != nil {
		for _, r := range doc.Resources {
			if err := checkResource(r); err != nil {
				return nil, err
			}
			writeResource(&b, r, "  ", "", true)
		}
	}
	b.WriteString("</HomedResources>\r\n")
	return encodeUTF16LE(b.String()), nil
}

// MarshalResource returns canonical bytes of one user's data: a compact UTF-8 HomedResource
// element in the dbimpexp namespace. Equal resources give equal bytes.
func MarshalResource(r Resource) []byte {
	var b strings.Builder
	writeResource(&b, r, "", Namespace, true)
	return []byte(b.String())
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

// writeResource writes one HomedResource element. indent "" writes it compactly; xmlns, when set,
// is declared on the element; withUser writes the UserAtHost attribute.
func writeResource(b *strings.Builder, r Resource, indent, xmlns string, withUser bool) {
	nl, in1, in2, in3 := "", "", "", ""
	if indent != "" {
		nl = "\r\n"
		in1, in2, in3 = indent, indent+"  ", indent+"    "
	}
	b.WriteString(in1 + "<HomedResource")
	if xmlns != "" {
		b.WriteString(` xmlns="` + attr(xmlns) + `"`)
	}
	if withUser {
		b.WriteString(` UserAtHost="` + attr(r.UserAtHost) + `"`)
	}
	b.WriteString(">" + nl)
	if len(r.Groups) == 0 {
		b.WriteString(in2 + "<ContactGroups />" + nl)
	} else {
		b.WriteString(in2 + "<ContactGroups>" + nl)
		for _, g := range r.Groups {
			fmt.Fprintf(b, `%s<ContactGroup Number="%d" DisplayName="%s" ExternalUri="%s" />%s`, in3, g.Number, attr(g.DisplayName), attr(g.ExternalURI), nl)
		}
		b.WriteString(in2 + "</ContactGroups>" + nl)
	}
	if len(r.Contacts) == 0 {
		b.WriteString(in2 + "<Contacts />" + nl)
	} else {
		b.WriteString(in2 + "<Contacts>" + nl)
		for _, c := range r.Contacts {
			groups := make([]string, len(c.Groups))
			for i, g := range c.Groups {
				groups[i] = strconv.Itoa(g)
			}
			fmt.Fprintf(b, `%s<Contact Buddy="%s" SubscribePresence="%s" Groups="%s"`, in3, attr(c.Buddy), flag(c.SubscribePresence), strings.Join(groups, " "))
			if c.DisplayName != "" {
				fmt.Fprintf(b, ` %s="%s"`, contactDisplayNameAttr, attr(c.DisplayName))
			}
			b.WriteString(" />" + nl)
		}
		b.WriteString(in2 + "</Contacts>" + nl)
	}
	if len(r.Containers) == 0 {
		b.WriteString(in2 + "<Containers />" + nl)
	} else {
		b.WriteString(in2 + "<Containers>" + nl)
		for _, c := range r.Containers {
			if len(c.Members) == 0 {
				fmt.Fprintf(b, `%s<Container ContainerNumber="%d" />%s`, in3, c.Number, nl)
				continue
			}
			fmt.Fprintf(b, `%s<Container ContainerNumber="%d">`, in3, c.Number)
			for _, m := range c.Members {
				b.WriteString(`<UserMember Member="` + attr(m) + `" />`)
			}
			b.WriteString("</Container>" + nl)
		}
		b.WriteString(in2 + "</Containers>" + nl)
	}
	b.WriteString(in1 + "</HomedResource>" + nl)
}

// attr escapes s for a double-quoted attribute value; tabs and line ends become character
// references so that attribute-value normalisation cannot change them.
func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
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

func encodeUTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2+2*len(u))
	out[0], out[1] = 0xFF, 0xFE
	for i, c := range u {
		out[2+2*i] = byte(c)
		out[3+2*i] = byte(c >> 8)
	}
	return out
}
