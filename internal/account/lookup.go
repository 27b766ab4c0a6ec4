package account

import (
	"errors"
	"io/fs"
	"strconv"
)

// Upstream's wording, which scripts and people grep for.
var (
	ErrNoPasswdEntries = errors.New("no matching entries in passwd file")
	ErrNoGroupEntries  = errors.New("no matching entries in group file")
)

// DB names the account files. Only System is used by gosu itself; other
// paths exist for this package's and its callers' unit tests.
type DB struct {
	Passwd string
	Group  string
}

// System is the machine's account database, read directly as upstream gosu
// does (no NSS).
var System = DB{Passwd: "/etc/passwd", Group: "/etc/group"}

// Malformed is a malformed line that carries the name being looked up, so
// the user can be told why that name was not found.
type Malformed struct {
	Path string
	Line int
	Why  error
}

// NotFoundError says that no well-formed entry matched, and why the user may
// have expected one: a malformed line that named what was asked for, or a
// file that exists but could not be read (typical in a user namespace, where
// /etc/passwd can belong to an unmapped uid), which reads as empty.
type NotFoundError struct {
	Err        error // ErrNoPasswdEntries or ErrNoGroupEntries
	Malformed  *Malformed
	Unreadable *fs.PathError
}

func (e *NotFoundError) Error() string {
	switch {
	case e.Unreadable != nil:
		return e.Err.Error() + " (" + e.Unreadable.Path + " could not be read: " + e.Unreadable.Err.Error() + ")"
	case e.Malformed != nil:
		return e.Err.Error() + " (" + e.Malformed.Path + ":" + strconv.Itoa(e.Malformed.Line) +
			" has that name but is malformed and ignored: " + e.Malformed.Why.Error() + ")"
	}
	return e.Err.Error()
}

// Unwrap gives Err and, for an unreadable file, the reason, so that
// errors.Is(err, fs.ErrPermission) holds then.
func (e *NotFoundError) Unwrap() []error {
	if e.Unreadable != nil {
		return []error{e.Err, e.Unreadable}
	}
	return []error{e.Err}
}

// UserByName returns the first well-formed passwd entry called name.
func (db DB) UserByName(name string) (User, error) {
	var u User
	var bad *Malformed
	found := false
	unreadable, err := scan(db.Passwd, func(line []byte, n int) bool {
		if string(firstField(line)) != name {
			return false
		}
		p, err := parsePasswd(line)
		if err != nil {
			if bad == nil {
				bad = &Malformed{Path: db.Passwd, Line: n, Why: err}
			}
			return false
		}
		u, found = p.user(), true
		return true
	})
	if err != nil {
		return User{}, err
	}
	if !found {
		return User{}, &NotFoundError{Err: ErrNoPasswdEntries, Malformed: bad, Unreadable: unreadable}
	}
	return u, nil
}

// UserByID returns the first well-formed passwd entry with this uid, and
// whether there is one.
func (db DB) UserByID(uid uint32) (User, bool, error) {
	var u User
	found := false
	_, err := scan(db.Passwd, func(line []byte, _ int) bool {
		if p, err := parsePasswd(line); err == nil && p.uid == uid {
			u, found = p.user(), true
		}
		return found
	})
	return u, found, err
}

// GroupByName returns the first well-formed group entry called name.
func (db DB) GroupByName(name string) (Group, error) {
	var g Group
	var bad *Malformed
	found := false
	unreadable, err := scan(db.Group, func(line []byte, n int) bool {
		if string(firstField(line)) != name {
			return false
		}
		p, err := parseGroup(line)
		if err != nil {
			if bad == nil {
				bad = &Malformed{Path: db.Group, Line: n, Why: err}
			}
			return false
		}
		g, found = Group{Name: name, GID: p.gid}, true
		return true
	})
	if err != nil {
		return Group{}, err
	}
	if !found {
		return Group{}, &NotFoundError{Err: ErrNoGroupEntries, Malformed: bad, Unreadable: unreadable}
	}
	return g, nil
}

// GroupsOf returns the gids of every well-formed group entry that lists user
// as a member, in file order, each gid once. A user's primary group is not
// added: the member lists alone decide, as upstream.
func (db DB) GroupsOf(user string) ([]uint32, error) {
	var gids []uint32
	seen := make(map[uint32]bool)
	_, err := scan(db.Group, func(line []byte, _ int) bool {
		if p, err := parseGroup(line); err == nil && !seen[p.gid] && p.hasMember(user) {
			seen[p.gid] = true
			gids = append(gids, p.gid)
		}
		return false
	})
	return gids, err
}
