package account

import (
	"errors"
	"io"
	"io/fs"
	"strconv"
	"syscall"
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
	u, _, _, err := db.find(userByName, name, 0)
	return u, err
}

// UserByID returns the first well-formed passwd entry with this uid, and
// whether there is one.
func (db DB) UserByID(uid uint32) (User, bool, error) {
	u, _, found, err := db.find(userByID, "", uid)
	return u, found, err
}

// GroupByName returns the first well-formed group entry called name.
func (db DB) GroupByName(name string) (Group, error) {
	u, _, _, err := db.find(groupByName, name, 0)
	if err != nil {
		return Group{}, err
	}
	return Group{Name: name, GID: u.GID}, nil
}

// GroupsOf returns the gids of every well-formed group entry that lists user
// as a member, in file order, each gid once. A user's primary group is not
// added: the member lists alone decide, as upstream.
func (db DB) GroupsOf(user string) ([]uint32, error) {
	_, gids, _, err := db.find(groupsOf, user, 0)
	return gids, err
}

// What find looks for.
const (
	userByName = iota
	userByID
	groupByName // the entry's gid is returned as the User's
	groupsOf
)

// find reads the passwd file (the group file for groupByName and groupsOf)
// line by line, skipping comments and blank lines, until the first
// well-formed entry called name, or with uid id, is found, or, for groupsOf,
// to the end, gathering the gids of the groups that list name as a member.
// A lookup by name that finds nothing returns a NotFoundError.
//
// A file that is missing, or that exists but may not be read, reads as
// empty, as upstream; in the second case the NotFoundError says why. A line
// that cannot be read as a line stops the lookup: nothing after it can be
// trusted to have been seen.
func (db DB) find(what int, name string, id uint32) (u User, gids []uint32, found bool, err error) {
	path, fields, missing := db.Passwd, passwdFields, ErrNoPasswdEntries
	if what >= groupByName {
		path, fields, missing = db.Group, groupFields, ErrNoGroupEntries
	}
	byName := what == userByName || what == groupByName
	var unreadable *fs.PathError
	var bad *Malformed
	fd, err := openRegular(path)
	switch {
	case err == syscall.ENOENT:
		err = nil
	case err == syscall.EACCES || err == syscall.EPERM:
		unreadable, err = &fs.PathError{Op: "open", Path: path, Err: err}, nil
	case err != nil:
		return User{}, nil, false, err
	default:
		var seen map[uint32]bool
		var f [passwdFields][]byte
		l := newLines(fdReader(fd))
		for !found {
			line, e := l.next()
			if e == io.EOF {
				break
			}
			if e == ErrLineTooLong {
				err = &LineError{Path: path, Line: l.n, Err: e}
			} else if e != nil {
				err = &fs.PathError{Op: "read", Path: path, Err: e}
			}
			if err != nil {
				break
			}
			if skip(line) || byName && string(firstField(line)) != name {
				continue
			}
			ids, e := parse(line, f[:fields])
			switch {
			case e != nil:
				if byName && bad == nil {
					bad = &Malformed{Path: path, Line: l.n, Why: e}
				}
			case what == groupsOf:
				if !seen[ids[0]] && hasMember(f[3], name) {
					if seen == nil {
						seen = make(map[uint32]bool)
					}
					seen[ids[0]] = true
					gids = append(gids, ids[0])
				}
			case what == groupByName:
				u.GID, found = ids[0], true
			case byName || ids[0] == id:
				u, found = User{Name: string(f[0]), UID: ids[0], GID: ids[1], Home: string(f[5]), Shell: string(f[6])}, true
			}
		}
		syscall.Close(fd)
	}
	if err == nil && byName && !found {
		err = &NotFoundError{Err: missing, Malformed: bad, Unreadable: unreadable}
	}
	return u, gids, found, err
}
