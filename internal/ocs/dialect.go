package ocs

import (
	"context"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// dialect renders one product's commands, runs them through the agent's runner and parses their
// output. The agent keeps what both products share (argument validation, matching results to the
// requested users, filtering); a dialect only knows its own scripts and output formats.
type dialect interface {
	// serviceHealth reports each service's state on s, in the order asked.
	serviceHealth(ctx context.Context, s Server, services []string) ([]ServiceStatus, error)
	// listUsers lists the directory through via; with home set, only the users homed there
	// (a dialect may return more: the agent filters again).
	listUsers(ctx context.Context, op string, via Server, home *Server) ([]HomedUser, error)
	// moveUsers moves the (validated) sips to target with one command on via and returns the
	// result rows the server printed.
	moveUsers(ctx context.Context, via Server, sips []string, target Server, force bool) ([]resultRow, error)
	// homes reads where the directory says each of sips is homed, through via: lower-case SIP
	// address -> server Name ("" when not one of the pool's servers or not found).
	homes(ctx context.Context, via Server, sips []string) (map[string]string, error)
	// exportContacts exports every user homed on s.
	exportContacts(ctx context.Context, s Server) (*contacts.Document, error)
	// exportUsers exports each of the (validated) users alone, those homed on s (exportusers.go).
	exportUsers(ctx context.Context, s Server, users []string) (*contacts.Document, error)
	// importContacts imports the (validated) resources of doc into s and returns one result per
	// resource, in order.
	importContacts(ctx context.Context, s Server, doc *contacts.Document) ([]ImportResult, error)
	// preflight runs the product's checks after the PowerShell version passed: tools, management
	// interface, reading users.
	preflight(ctx context.Context, s Server) ([]PreflightCheck, error)
	// exportConfiguration exports the configuration as named files.
	exportConfiguration(ctx context.Context, s Server) ([]ConfigFile, error)
}

// newDialect returns the dialect of product.
func newDialect(product Product, r *runner, o options) (dialect, bool) {
	switch product {
	case ProductOCS2007R2:
		return &ocsDialect{runner: r, tools: o.tools}, true
	case ProductSkypeForBusiness:
		return &sfbDialect{runner: r, warm: newWarmPS(r.exec)}, true
	}
	return nil, false
}
