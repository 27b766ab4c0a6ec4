package account

import (
	"errors"
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

// file is an account file open for a lookup, read by a Scanner. A file
// that is missing, or that exists but may not be read, reads as empty, as
// upstream; in the second case unreadable says why, for a NotFoundError.
type file struct {
	*Scanner
	fd         int
	unreadable *fs.PathError
}

func openFile(path string) (file, error) {
	fd, err := openRegular(path)
	switch {
	case err == nil:
		return file{NewScanner(fdReader(fd), path), fd, nil}, nil
	case err == syscall.ENOENT:
		return file{NewScanner(nil, path), -1, nil}, nil
	case err == syscall.EACCES || err == syscall.EPERM:
		return file{NewScanner(nil, path), -1, &fs.PathError{Op: "open", Path: path, Err: err}}, nil
	}
	return file{}, err
}

func (f file) close() {
	if f.fd >= 0 {
		syscall.Close(f.fd)
	}
}

// byName finds the first well-formed line of f called name and fills
// fields (passwdFields or groupFields of them) from it. Without one, the
// error is the read error that stopped it, or a NotFoundError with missing
// that names the first malformed line with the name, if any, and why the
// file may have read as empty.
func (f file) byName(name string, fields [][]byte, missing error) ([2]uint32, error) {
	var bad *Malformed
	for f.Scan() {
		if string(FirstField(f.Line())) != name {
			continue
		}
		ids, err := parse(f.Line(), fields)
		if err == nil {
			return ids, nil
		}
		if bad == nil {
			bad = &Malformed{Path: f.path, Line: f.N(), Why: err}
		}
	}
	if err := f.Err(); err != nil {
		return [2]uint32{}, err
	}
	return [2]uint32{}, &NotFoundError{Err: missing, Malformed: bad, Unreadable: f.unreadable}
}

// UserByName returns the first well-formed passwd entry called name.
func (db DB) UserByName(name string) (User, error) {
	f, err := openFile(db.Passwd)
	if err != nil {
		return User{}, err
	}
	defer f.close()
	var fields [passwdFields][]byte
	ids, err := f.byName(name, fields[:], ErrNoPasswdEntries)
	if err != nil {
		return User{}, err
	}
	return userOf(&fields, ids), nil
}

// UserByID returns the first well-formed passwd entry with this uid, and
// whether there is one.
func (db DB) UserByID(uid uint32) (User, bool, error) {
	f, err := openFile(db.Passwd)
	if err != nil {
		return User{}, false, err
	}
	defer f.close()
	var fields [passwdFields][]byte
	for f.Scan() {
		if ids, err := parse(f.Line(), fields[:]); err == nil && ids[0] == uid {
			return userOf(&fields, ids), true, nil
		}
	}
	return User{}, false, f.Err()
}

// GroupByName returns the first well-formed group entry called name,
// without its members.
func (db DB) GroupByName(name string) (Group, error) {
	f, err := openFile(db.Group)
	if err != nil {
		return Group{}, err
	}
	defer f.close()
	var fields [groupFields][]byte
	ids, err := f.byName(name, fields[:], ErrNoGroupEntries)
	if err != nil {
		return Group{}, err
	}
	return Group{Name: name, GID: ids[0]}, nil
}

// GroupsOf returns the gids of every well-formed group entry that lists user
// as a member, in file order, each gid once. A user's primary group is not
// added: the member lists alone decide, as upstream.
func (db DB) GroupsOf(user string) ([]uint32, error) {
	f, err := openFile(db.Group)
	if err != nil {
		return nil, err
	}
	defer f.close()
	var gids []uint32
	var seen map[uint32]bool
	var fields [groupFields][]byte
	for f.Scan() {
		ids, err := parse(f.Line(), fields[:])
		if err != nil || seen[ids[0]] || !hasMember(fields[3], user) {
			continue
		}
		if seen == nil {
			seen = make(map[uint32]bool)
		}
		seen[ids[0]] = true
		gids = append(gids, ids[0])
	}
	return gids, f.Err()
}
