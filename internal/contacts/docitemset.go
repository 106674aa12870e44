package contacts

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
)

// lcdPrefix starts the DocItem name of a user's contact data; other kinds (urn:hcd:, …) are skipped.
const lcdPrefix = "urn:lcd:"

type xmlDocItemSet struct {
	XMLName xml.Name
	Items   []xmlDocItem `xml:"DocItem"`
}

type xmlDocItem struct {
	Name string `xml:"Name,attr"`
	Data struct {
		Resource *xmlResource `xml:"HomedResource"`
	} `xml:"Data"`
}

// ParseDocItemSet parses the DocItemSet.xml of an Export-CsUserData package. Only user contact
// items (urn:lcd:<user@domain>) are kept; namespaces are not checked.
func ParseDocItemSet(data []byte) (*Document, error) {
	var set xmlDocItemSet
	if err := decodeXML(data, &set); err != nil {
		return nil, fmt.Errorf("parsing DocItemSet: %w", err)
	}
	if set.XMLName.Local != "DocItemSet" {
		return nil, fmt.Errorf("parsing DocItemSet: root element is %q, want DocItemSet", set.XMLName.Local)
	}
	out := &Document{}
	for _, item := range set.Items {
		if len(item.Name) < len(lcdPrefix) || !strings.EqualFold(item.Name[:len(lcdPrefix)], lcdPrefix) {
			continue
		}
		xr := xmlResource{}
		if item.Data.Resource != nil {
			xr = *item.Data.Resource
		}
		xr.UserAtHost = item.Name[len(lcdPrefix):]
		r, err := fromXML(xr)
		if err != nil {
			return nil, fmt.Errorf("parsing DocItemSet: item %q: %w", item.Name, err)
		}
		out.Resources = append(out.Resources, r)
	}
	return out, nil
}

// MarshalDocItemSet writes doc as a DocItemSet (UTF-8, CRLF), one urn:lcd: item per resource.
func MarshalDocItemSet(doc *Document) ([]byte, error) {
	var b []byte
	b = append(b, `<?xml version="1.0" encoding="utf-8"?>`+"\r\n"...)
	b = append(b, `<DocItemSet xmlns="`+docItemSetNamespace+`" Version="`+docItemSetVersion+`">`+"\r\n"...)
	if doc != nil {
		for _, r := range doc.Resources {
			if err := checkResource(r); err != nil {
				return nil, err
			}
			b = append(appendAttr(append(b, `  <DocItem Name="`...), lcdPrefix+r.UserAtHost), `">`+"\r\n"...)
			b = append(b, "    <Data>\r\n"...)
			b = appendResource(b, r, "      ", userDataHomedResourceNamespace, false)
			b = append(b, "    </Data>\r\n"...)
			b = append(b, "  </DocItem>\r\n"...)
		}
	}
	return append(b, "</DocItemSet>\r\n"...), nil
}

// maxEntrySize bounds the DocItemSet read from a ZIP so a hostile archive cannot exhaust memory.
const maxEntrySize = 1 << 30

// ReadUserDataZip reads the DocItemSet.xml part of an Export-CsUserData ZIP.
func ReadUserDataZip(data []byte) (*Document, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("reading user data ZIP: %w", err)
	}
	for _, f := range zr.File {
		if !strings.EqualFold(path.Base(strings.ReplaceAll(f.Name, `\`, "/")), docItemSetEntry) {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("reading user data ZIP: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(rc, maxEntrySize+1))
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading user data ZIP: %s: %w", f.Name, err)
		}
		if len(body) > maxEntrySize {
			return nil, fmt.Errorf("reading user data ZIP: %s is larger than %d bytes", f.Name, maxEntrySize)
		}
		return ParseDocItemSet(body)
	}
	return nil, fmt.Errorf("reading user data ZIP: no %s in the archive", docItemSetEntry)
}

// WriteUserDataZip writes doc as an Export-CsUserData ZIP holding DocItemSet.xml.
func WriteUserDataZip(doc *Document) ([]byte, error) {
	body, err := MarshalDocItemSet(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// A fixed header (no modification time) keeps the archive bytes deterministic.
	w, err := zw.CreateHeader(&zip.FileHeader{Name: docItemSetEntry, Method: zip.Deflate})
	if err != nil {
		return nil, fmt.Errorf("writing user data ZIP: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("writing user data ZIP: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("writing user data ZIP: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteUserDataZipFrom writes doc as an Export-CsUserData ZIP holding every part of template, a
// ZIP that Export-CsUserData wrote, with DocItemSet.xml replaced: what public restore scripts
// do ("unzip all of its files, edit DocItemSet.xml and re-zip all of them";
// lync2013_contact_restore_tool.ps1), since an import may refuse a package without the parts a
// real export holds. The other parts are copied byte for byte, whatever they are.
func WriteUserDataZipFrom(template []byte, doc *Document) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(template), int64(len(template)))
	if err != nil {
		return nil, fmt.Errorf("reading the template user data ZIP: %w", err)
	}
	body, err := MarshalDocItemSet(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	wrote := false
	for _, f := range zr.File {
		if strings.EqualFold(path.Base(strings.ReplaceAll(f.Name, `\`, "/")), docItemSetEntry) {
			if err := writeEntry(zw, f.Name, body); err != nil {
				return nil, err
			}
			wrote = true
			continue
		}
		if err := zw.Copy(f); err != nil {
			return nil, fmt.Errorf("writing user data ZIP: %s: %w", f.Name, err)
		}
	}
	if !wrote {
		return nil, fmt.Errorf("reading the template user data ZIP: no %s in the archive", docItemSetEntry)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("writing user data ZIP: %w", err)
	}
	return buf.Bytes(), nil
}

func writeEntry(zw *zip.Writer, name string, body []byte) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		return fmt.Errorf("writing user data ZIP: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("writing user data ZIP: %w", err)
	}
	return nil
}

// UserDataZipParts lists the names of the parts of a user data ZIP.
func UserDataZipParts(data []byte) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("reading user data ZIP: %w", err)
	}
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names, nil
}
