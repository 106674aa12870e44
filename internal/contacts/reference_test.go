package contacts

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// The renderers as first written (strings.Builder, fmt, a []rune transcoding), kept as the
// oracle that the faster ones must match byte for byte.

func refMarshalHomedResources(doc *Document) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-16"?>` + "\r\n")
	b.WriteString(`<HomedResources xmlns="` + Namespace + `">` + "\r\n")
	if doc != nil {
		for _, r := range doc.Resources {
			if err := checkResource(r); err != nil {
				return nil, err
			}
			refWriteResource(&b, r, "  ", "", true)
		}
	}
	b.WriteString("</HomedResources>\r\n")
	return refEncodeUTF16LE(b.String()), nil
}

func refMarshalResource(r Resource) []byte {
	var b strings.Builder
	refWriteResource(&b, r, "", Namespace, true)
	return []byte(b.String())
}

func refMarshalDocItemSet(doc *Document) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n")
	b.WriteString(`<DocItemSet xmlns="` + docItemSetNamespace + `" Version="` + docItemSetVersion + `">` + "\r\n")
	if doc != nil {
		for _, r := range doc.Resources {
			if err := checkResource(r); err != nil {
				return nil, err
			}
			b.WriteString(`  <DocItem Name="` + refAttr(lcdPrefix+r.UserAtHost) + `">` + "\r\n")
			b.WriteString("    <Data>\r\n")
			refWriteResource(&b, r, "      ", userDataHomedResourceNamespace, false)
			b.WriteString("    </Data>\r\n")
			b.WriteString("  </DocItem>\r\n")
		}
	}
	b.WriteString("</DocItemSet>\r\n")
	return []byte(b.String()), nil
}

func refWriteResource(b *strings.Builder, r Resource, indent, xmlns string, withUser bool) {
	nl, in1, in2, in3 := "", "", "", ""
	if indent != "" {
		nl = "\r\n"
		in1, in2, in3 = indent, indent+"  ", indent+"    "
	}
	b.WriteString(in1 + "<HomedResource")
	if xmlns != "" {
		b.WriteString(` xmlns="` + refAttr(xmlns) + `"`)
	}
	if withUser {
		b.WriteString(` UserAtHost="` + refAttr(r.UserAtHost) + `"`)
	}
	b.WriteString(">" + nl)
	if len(r.Groups) == 0 {
		b.WriteString(in2 + "<ContactGroups />" + nl)
	} else {
		b.WriteString(in2 + "<ContactGroups>" + nl)
		for _, g := range r.Groups {
			fmt.Fprintf(b, `%s<ContactGroup Number="%d" DisplayName="%s" ExternalUri="%s" />%s`, in3, g.Number, refAttr(g.DisplayName), refAttr(g.ExternalURI), nl)
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
			fmt.Fprintf(b, `%s<Contact Buddy="%s" SubscribePresence="%s" Groups="%s"`, in3, refAttr(c.Buddy), flag(c.SubscribePresence), strings.Join(groups, " "))
			if c.DisplayName != "" {
				fmt.Fprintf(b, ` %s="%s"`, contactDisplayNameAttr, refAttr(c.DisplayName))
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
				b.WriteString(`<UserMember Member="` + refAttr(m) + `" />`)
			}
			b.WriteString("</Container>" + nl)
		}
		b.WriteString(in2 + "</Containers>" + nl)
	}
	b.WriteString(in1 + "</HomedResource>" + nl)
}

func refAttr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func refEncodeUTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2+2*len(u))
	out[0], out[1] = 0xFF, 0xFE
	for i, c := range u {
		out[2+2*i] = byte(c)
		out[3+2*i] = byte(c >> 8)
	}
	return out
}
