package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ProblemKind says what a verification found wrong.
type ProblemKind string

// Problem kinds, worst first.
const (
	// ProblemCorrupt: stored bytes are missing, do not decompress or do not match their digest.
	ProblemCorrupt ProblemKind = "Corrupt"
	// ProblemDocument: the bytes match their digest but the check refused them (a contact list
	// that no longer decodes or no longer encodes into the import format).
	ProblemDocument ProblemKind = "Document"
)

// maxProblems bounds the problems a report lists; the counts cover them all.
const maxProblems = 10

// Problem is one thing a verification found wrong.
type Problem struct {
	Kind ProblemKind
	// User is the user's key in the snapshot; empty for a configuration file or the user table.
	User string
	// What names the object: "user table", "configuration file <name>", or "contacts".
	What string
	Err  error
}

func (p Problem) String() string {
	if p.User != "" {
		return fmt.Sprintf("%s of %s: %v", p.What, p.User, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.What, p.Err)
}

// VerifyReport is what Verify read and found.
type VerifyReport struct {
	Snapshot string
	// Users and Files are the user documents and configuration files read.
	Users, Files int
	// Bytes is the uncompressed size of what was read.
	Bytes int64
	// Corrupt and Documents count the problems of each kind.
	Corrupt, Documents int
	// Problems lists the first problems found (at most maxProblems), in a stable order.
	Problems []Problem
}

// OK reports whether nothing was found wrong.
func (v *VerifyReport) OK() bool { return v.Corrupt == 0 && v.Documents == 0 }

// CheckFunc checks one user's verified document; key is the user's key in the snapshot.
type CheckFunc func(key string, data []byte) error

// Verify reads snapshot m end to end: its user table, every user's document and every
// configuration file, checking each against its digest, and passes every user's document to
// check. Damage goes into the report; the error is for what stopped the reading (the store is
// unavailable, the context ended).
func (r *Repository) Verify(ctx context.Context, m *Manifest, check CheckFunc) (*VerifyReport, error) {
	rep := &VerifyReport{Snapshot: m.Name}
	var mu sync.Mutex
	record := func(p Problem) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Kind {
		case ProblemCorrupt:
			rep.Corrupt++
		case ProblemDocument:
			rep.Documents++
		}
		rep.Problems = append(rep.Problems, p)
	}

	for _, f := range m.Configuration {
		data, err := r.ReadConfig(ctx, f)
		if err := asProblem(err, func(err error) { record(Problem{Kind: ProblemCorrupt, What: "configuration file " + f.Name, Err: err}) }); err != nil {
			return nil, err
		}
		rep.Files++
		rep.Bytes += int64(len(data))
	}
	users, err := r.Users(ctx, m)
	if err := asProblem(err, func(err error) { record(Problem{Kind: ProblemCorrupt, What: "user table", Err: err}) }); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bytes int64
	err = forEachDigest(ctx, keys, func(ctx context.Context, key string) error {
		data, err := r.readBlob(ctx, users[key].Digest)
		if errors.Is(err, ErrCorrupt) {
			record(Problem{Kind: ProblemCorrupt, User: key, What: "contacts", Err: err})
			return nil
		}
		if err != nil {
			return err
		}
		if err := check(key, data); err != nil {
			record(Problem{Kind: ProblemDocument, User: key, What: "contacts", Err: err})
		}
		mu.Lock()
		rep.Users++
		bytes += int64(len(data))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Bytes += bytes
	sortProblems(rep)
	return rep, nil
}

// asProblem hands an ErrCorrupt error to record and returns nil; it returns any other error.
func asProblem(err error, record func(error)) error {
	if errors.Is(err, ErrCorrupt) {
		record(err)
		return nil
	}
	return err
}

// sortProblems orders the problems worst kind first, then by user, and keeps the first few.
func sortProblems(rep *VerifyReport) {
	rank := map[ProblemKind]int{ProblemCorrupt: 0, ProblemDocument: 1}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.User != b.User {
			return a.User < b.User
		}
		return a.What < b.What
	})
	if len(rep.Problems) > maxProblems {
		rep.Problems = rep.Problems[:maxProblems]
	}
}
