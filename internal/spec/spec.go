// Package spec turns a user spec ("user", "uid", "user:group", ":group", ...)
// into the identity to run as, with upstream gosu's semantics.
package spec

import (
	"errors"
	"strings"

	"gosu/internal/account"
	"gosu/internal/errs"
)

// Identity is who the command will run as.
type Identity struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups; empty means none
	Home   string   // never empty: "/" when there is no entry or no home field
	Name   string   // passwd entry name; "" when the uid has no entry
	Shell  string   // passwd entry shell; "" when the uid has no entry

	// ExplicitGroup says the spec named the group (user:group), which
	// means exactly that group and no supplementary ones.
	ExplicitGroup bool
}

// Caller is the identity gosu was started with, which the spec's empty parts
// default to.
type Caller struct {
	UID uint32
	GID uint32
}

// Resolve resolves spec against db.
//
// A part made only of digits is always an id, never a name; a name must match
// a well-formed entry exactly. The supplementary groups are those listing the
// user's name, and only in the implicit form: "user:group" means exactly that
// user and group, as upstream.
func Resolve(s string, caller Caller, db account.DB) (Identity, error) {
	userArg, groupArg, _ := strings.Cut(s, ":")
	if strings.Contains(groupArg, ":") {
		return Identity{}, errors.New("a user spec has at most one ':' (user:group)")
	}
	id := Identity{UID: caller.UID, GID: caller.GID, Home: "/"}

	entry, found, err := lookupUser(userArg, caller, db)
	if err != nil {
		return Identity{}, err
	}
	if found {
		id.UID, id.GID, id.Name, id.Shell = entry.UID, entry.GID, entry.Name, entry.Shell
		if entry.Home != "" {
			id.Home = entry.Home
		}
	} else if userArg != "" {
		id.UID, _ = account.ParseID(userArg) // lookupUser only reports "not found" for an id
	}

	switch {
	case groupArg != "":
		gid, err := lookupGroup(groupArg, db)
		if err != nil {
			return Identity{}, err
		}
		id.GID, id.ExplicitGroup = gid, true
	case found:
		if id.Groups, err = db.GroupsOf(entry.Name); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

// lookupUser finds the passwd entry for the user part of a spec: by the
// caller's uid when empty, by uid when numeric, by name otherwise. Only a
// numeric or empty part may have no entry.
func lookupUser(arg string, caller Caller, db account.DB) (account.User, bool, error) {
	uid, err := caller.UID, error(nil)
	if arg != "" {
		uid, err = account.ParseID(arg)
	}
	switch err {
	case nil:
		return db.UserByID(uid)
	case account.ErrRange:
		return account.User{}, false, err
	}
	u, err := db.UserByName(arg)
	if err != nil {
		return account.User{}, false, errs.Wrap("unable to find user "+errs.Printable(arg), err)
	}
	return u, true, nil
}

// GroupIDs resolves group names (or gids, taken as they are) to gids.
func GroupIDs(groups []string, db account.DB) ([]uint32, error) {
	gids := make([]uint32, 0, len(groups))
	for _, g := range groups {
		gid, err := lookupGroup(g, db)
		if err != nil {
			return nil, err
		}
		gids = append(gids, gid)
	}
	return gids, nil
}

// lookupGroup returns the gid for the group part of a spec. A numeric gid is
// taken as is and need not exist.
func lookupGroup(arg string, db account.DB) (uint32, error) {
	gid, err := account.ParseID(arg)
	if err != account.ErrNotDecimal {
		return gid, err
	}
	g, err := db.GroupByName(arg)
	if err != nil {
		return 0, errs.Wrap("unable to find group "+errs.Printable(arg), err)
	}
	return g.GID, nil
}
