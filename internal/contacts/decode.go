package contacts

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// The homed-resources decoder walks the document token by token and fills Resources directly:
// no reflection and no intermediate copy of the document, so that an export of thousands of users
// is read at the pace of the tokenizer, from any reader. Elements and attributes match by local
// name, whatever their namespace; unknown ones are skipped, as encoding/xml's Unmarshal does.

// ParseHomedResourcesFrom reads a dbimpexp homed-resources document from r, encoded as UTF-16
// (LE or BE, with or without BOM) or UTF-8, without holding the whole text.
func ParseHomedResourcesFrom(r io.Reader) (*Document, error) {
	doc, err := decodeHomedResources(r)
	if err != nil {
		return nil, fmt.Errorf("parsing homed resources: %w", err)
	}
	return doc, nil
}

func decodeHomedResources(r io.Reader) (*Document, error) {
	out := &Document{}
	err := eachHomedResource(r, func(res Resource) error {
		out.Resources = append(out.Resources, res)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachHomedResource reads a dbimpexp homed-resources document from r, as
// ParseHomedResourcesFrom does, and hands each resource to fn as soon as its element ends, so
// that no more than one user's data is held. An error of fn stops the reading and is returned.
// fn may have been called before a later part of the document turns out to be malformed.
func EachHomedResource(r io.Reader, fn func(Resource) error) error {
	if err := eachHomedResource(r, fn); err != nil {
		return fmt.Errorf("parsing homed resources: %w", err)
	}
	return nil
}

func eachHomedResource(r io.Reader, fn func(Resource) error) error {
	d, err := newDecoder(r)
	if err != nil {
		return err
	}
	root, err := rootElement(d)
	if err != nil {
		return err
	}
	if root.Name.Local != "HomedResources" {
		return fmt.Errorf("root element is %q, want HomedResources", root.Name.Local)
	}
	if root.Name.Space != "" && root.Name.Space != Namespace {
		return fmt.Errorf("namespace %q, want %q", root.Name.Space, Namespace)
	}
	n := 0
	err = eachChild(d, func(start xml.StartElement) (bool, error) {
		if start.Name.Local != "HomedResource" {
			return false, nil
		}
		n++
		res, err := decodeResource(d, start)
		if err != nil {
			return true, fmt.Errorf("resource %d: %w", n, err)
		}
		return true, fn(res)
	})
	if err != nil {
		return err
	}
	return trailer(d)
}

// newDecoder transcodes r to UTF-8 as it is read (UTF-16 is recognised by its BOM or by a NUL
// next to the first '<') and returns an XML decoder over it.
func newDecoder(r io.Reader) (*xml.Decoder, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		src = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
	case len(head) >= 2 && head[0] == '<' && head[1] == 0:
		src = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
	case len(head) >= 2 && head[0] == 0 && head[1] == '<':
		src = transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder())
	}
	d := xml.NewDecoder(src)
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		// The text is already UTF-8 whatever the declaration says.
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "utf-8", "utf8":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	return d, nil
}

// rootElement returns the first element; only the prolog (declaration, comments, whitespace,
// a doctype) may precede it.
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, errors.New("no root element")
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errors.New("text before the root element")
			}
		}
	}
}

// trailer accepts only whitespace, comments and processing instructions after the root.
func trailer(d *xml.Decoder) error {
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

// eachChild calls fn for each child element of the element just started, up to its end tag. fn
// consumes the child it handles, end tag included; a child it does not handle is skipped.
func eachChild(d *xml.Decoder, fn func(xml.StartElement) (bool, error)) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			handled, err := fn(t)
			if err != nil {
				return err
			}
			if !handled {
				if err := d.Skip(); err != nil {
					return err
				}
			}
		case xml.EndElement:
			return nil
		}
	}
}

// attrValue is the value of the last attribute with this local name ("" when absent).
func attrValue(start xml.StartElement, local string) string {
	v := ""
	for _, a := range start.Attr {
		if a.Name.Local == local {
			v = a.Value
		}
	}
	return v
}

// decodeResource reads one HomedResource element whose start tag was just read.
func decodeResource(d *xml.Decoder, start xml.StartElement) (Resource, error) {
	r := Resource{UserAtHost: attrValue(start, "UserAtHost")}
	err := eachChild(d, func(list xml.StartElement) (bool, error) {
		var item func(xml.StartElement) (bool, error)
		switch list.Name.Local {
		case "ContactGroups":
			item = func(e xml.StartElement) (bool, error) { return e.Name.Local == "ContactGroup", addGroup(&r, d, e) }
		case "Contacts":
			item = func(e xml.StartElement) (bool, error) { return e.Name.Local == "Contact", addContact(&r, d, e) }
		case "Containers":
			item = func(e xml.StartElement) (bool, error) { return e.Name.Local == "Container", addContainer(&r, d, e) }
		default:
			return false, nil
		}
		return true, eachChild(d, item)
	})
	return r, err
}

func addGroup(r *Resource, d *xml.Decoder, e xml.StartElement) error {
	if e.Name.Local != "ContactGroup" {
		return nil
	}
	n, err := parseNumber(attrValue(e, "Number"))
	if err != nil {
		return fmt.Errorf("group number: %w", err)
	}
	r.Groups = append(r.Groups, Group{Number: n, DisplayName: attrValue(e, "DisplayName"), ExternalURI: attrValue(e, "ExternalUri")})
	return d.Skip()
}

func addContact(r *Resource, d *xml.Decoder, e xml.StartElement) error {
	if e.Name.Local != "Contact" {
		return nil
	}
	c := Contact{Buddy: attrValue(e, "Buddy"), DisplayName: attrValue(e, contactDisplayNameAttr)}
	sub, err := parseFlag(attrValue(e, "SubscribePresence"))
	if err != nil {
		return fmt.Errorf("contact %q: SubscribePresence: %w", c.Buddy, err)
	}
	c.SubscribePresence = sub
	for _, f := range strings.Fields(attrValue(e, "Groups")) {
		n, err := parseNumber(f)
		if err != nil {
			return fmt.Errorf("contact %q: groups: %w", c.Buddy, err)
		}
		c.Groups = append(c.Groups, n)
	}
	r.Contacts = append(r.Contacts, c)
	return d.Skip()
}

func addContainer(r *Resource, d *xml.Decoder, e xml.StartElement) error {
	if e.Name.Local != "Container" {
		return nil
	}
	n, err := parseNumber(attrValue(e, "ContainerNumber"))
	if err != nil {
		return fmt.Errorf("container number: %w", err)
	}
	ct := Container{Number: n}
	err = eachChild(d, func(m xml.StartElement) (bool, error) {
		if m.Name.Local != "UserMember" {
			return false, nil
		}
		ct.Members = append(ct.Members, attrValue(m, "Member"))
		return true, d.Skip()
	})
	r.Containers = append(r.Containers, ct)
	return err
}
