package ocs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// A few users are exported one by one rather than with the whole server: dbimpexp's /user: and
// Export-CsUserData's -UserFilter export one user (inferred.go), so the cost is the users asked
// for, not the server's every user. Above maxPerUserExport users one whole-server export costs
// less than as many program starts.
const maxPerUserExport = 64

// perUserExport reports whether users are few and all valid addresses, so that they may be sent
// to the server (as data, one per line of the upload) and exported one by one.
func perUserExport(users []string) bool {
	if len(users) == 0 || len(users) > maxPerUserExport {
		return false
	}
	for _, u := range users {
		if ValidateSIP("sip:"+userAtHost(u)) != nil {
			return false
		}
	}
	return true
}

// exportUsersPayload is the upload of a per-user export: the users' user@host, one a line, with
// no line end after the last, so that splitting the text gives exactly the users.
func exportUsersPayload(users []string) []byte {
	parts := make([]string, len(users))
	for i, u := range users {
		parts[i] = userAtHost(u)
	}
	return []byte(strings.Join(parts, "\n"))
}

// psExportUsers reads the users of the upload into $users.
const psExportUsers = "$users = [Text.Encoding]::UTF8.GetString($data).Split(\"`n\")\n"

// exportedUsers joins the per-user frames in the order asked; a user whose export wrote no file
// (not homed there) is absent, as from a whole-server export.
func exportedUsers(op, server string, users []string, frames [][]byte, parse func([]byte) (*contacts.Document, error)) (*contacts.Document, error) {
	got, _, err := readBackOf(frames, parse)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	doc := &contacts.Document{}
	for _, u := range users {
		if r, ok := got[strings.ToLower(userAtHost(u))]; ok {
			doc.Resources = append(doc.Resources, r)
		}
	}
	return doc, nil
}

// exportUsers exports each of users alone with dbimpexp /user:.
func (d *ocsDialect) exportUsers(ctx context.Context, s Server, users []string) (*contacts.Document, error) {
	const op = OpExportContacts
	name := tempName(".xml")
	render := func(up string) (string, error) { return ocsExportUsersScript(d.tools.DBImpExpPath, name, up) }
	frames, err := framesOf(op, s.Name, len(users))(d.runPSWithData(ctx, op, s.Name, exportUsersPayload(users), render))
	if err != nil {
		return nil, err
	}
	return exportedUsers(op, s.Name, users, frames, contacts.ParseHomedResources)
}

// exportUsers exports each of users alone with Export-CsUserData -UserFilter.
func (d *sfbDialect) exportUsers(ctx context.Context, s Server, users []string) (*contacts.Document, error) {
	const op = OpExportContacts
	name := tempName(".zip")
	render := func(up string) (string, error) { return sfbExportUsersScript(s.FQDN, name, up) }
	frames, err := framesOf(op, s.Name, len(users))(d.runPSWithData(ctx, op, s.Name, exportUsersPayload(users), render))
	if err != nil {
		return nil, err
	}
	return exportedUsers(op, s.Name, users, frames, contacts.ReadUserDataZip)
}

// ocsExportUsersScript prints one frame per user of the upload: its dbimpexp export as a gzip
// frame, or a no-file frame when dbimpexp wrote none (the user is not homed on this server).
func ocsExportUsersScript(dbimpexp, name, upload string) (string, error) {
	tool, err := psTool("exe", "DBImpExp.exe", "dbimpexpPath", dbimpexp)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	read, err := psReadUpload(upload)
	if err != nil {
		return "", err
	}
	return psHeader + tool + read + psExportUsers +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"foreach ($u in $users) {\n" +
		"$ErrorActionPreference = 'Continue'\n" +
		"$o = & $exe \"/hrxmlfile:$p\" /restype:user \"/user:$u\"\n" +
		"$c = $LASTEXITCODE\n" +
		"$ErrorActionPreference = 'Stop'\n" +
		"if ([IO.File]::Exists($p)) {\n" +
		psFrameGzip("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n" +
		"} else {\n" + psNoFile() + "}\n}\n", nil
}

// sfbExportUsersScript prints one frame per user of the upload: its Export-CsUserData -UserFilter
// package, or a no-file frame when the export wrote none.
func sfbExportUsersScript(poolFQDN, name, upload string) (string, error) {
	pool, err := QuotePS(poolFQDN)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	read, err := psReadUpload(upload)
	if err != nil {
		return "", err
	}
	return sfbHeader + read + psExportUsers +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"foreach ($u in $users) {\n" +
		"$c = 1\n" +
		"try { Export-CsUserData -PoolFqdn " + pool + " -FileName $p -UserFilter $u; $c = 0 } catch { }\n" +
		"if ([IO.File]::Exists($p)) {\n" +
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n" +
		"} else {\n" + psNoFile() + "}\n}\n", nil
}

// ContactStreamer is implemented by agents that pass an export's users on one by one as the
// export is read, instead of returning the whole document: a backup then holds one user at a
// time. Use StreamContacts, which falls back to ExportContacts for agents without it.
type ContactStreamer interface {
	// StreamContacts exports the contacts of users homed on server (nil users = all), calling
	// each for every user as its data arrives. An error of each stops the export and is returned;
	// each may have been called for some users before an error says the export failed.
	StreamContacts(ctx context.Context, server string, users []string, each func(contacts.Resource) error) error
}

// StreamContacts exports through agent's ContactStreamer, or through ExportContacts when agent
// has none (the users are then handed to each from the whole document).
func StreamContacts(ctx context.Context, agent Agent, server string, users []string, each func(contacts.Resource) error) error {
	if s, ok := agent.(ContactStreamer); ok {
		return s.StreamContacts(ctx, server, users, each)
	}
	doc, err := agent.ExportContacts(ctx, server, users)
	if err != nil {
		return err
	}
	for _, r := range doc.Resources {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// streamingDialect is a dialect whose whole-server export can be streamed.
type streamingDialect interface {
	streamContacts(ctx context.Context, s Server, each func(contacts.Resource) error) error
}

// StreamContacts implements ContactStreamer. A few users are exported one by one (their
// documents are small); a whole server's export is streamed where the dialect can (OCS 2007 R2:
// dbimpexp's XML is read as it arrives), and read whole otherwise (Skype for Business: the
// export is a ZIP archive, which is read from its end).
func (a *agent) StreamContacts(ctx context.Context, server string, users []string, each func(contacts.Resource) error) error {
	s, err := a.server(OpExportContacts, server)
	if err != nil {
		return err
	}
	sd, streams := a.d.(streamingDialect)
	if perUserExport(users) || !streams {
		return StreamContacts(ctx, exportOnly{a}, server, users, each)
	}
	var want map[string]bool
	if users != nil {
		want = map[string]bool{}
		for _, u := range users {
			want[strings.ToLower(userAtHost(u))] = true
		}
	}
	return sd.streamContacts(ctx, s, func(r contacts.Resource) error {
		if want != nil && !want[strings.ToLower(r.UserAtHost)] {
			return nil
		}
		return each(r)
	})
}

// exportOnly hides an agent's ContactStreamer, so StreamContacts uses its ExportContacts.
type exportOnly struct{ Agent }

// streamContacts streams the server's dbimpexp export (one frame of UTF-16 XML) into each.
func (d *ocsDialect) streamContacts(ctx context.Context, s Server, each func(contacts.Resource) error) error {
	const op = OpExportContacts
	script, err := ocsExportScript(d.tools.DBImpExpPath, tempName(".xml"))
	if err != nil {
		return fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	run := func(ctx context.Context) (Result, error) { return d.runPS(ctx, op, s.Name, script, nil) }
	eachErr := error(nil)
	err = streamFrames(ctx, 1, run, func(_ int, r io.Reader) error {
		err := contacts.EachHomedResource(r, func(res contacts.Resource) error {
			if err := each(res); err != nil {
				eachErr = err
				return err
			}
			return nil
		})
		if err != nil && eachErr == nil && !errors.Is(err, ErrBadOutput) {
			err = fmt.Errorf("%w: %w", ErrBadOutput, err)
		}
		return err
	})
	switch {
	case eachErr != nil:
		return eachErr
	case err != nil && errors.Is(err, ErrBadOutput):
		return fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	return err
}
