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

// NotFoundError says that no well-formed entry matched, and which malformed
// line, if any, named what was asked for.
type NotFoundError struct {
	Err       error // ErrNoPasswdEntries or ErrNoGroupEntries
	Malformed *Malformed
}

func (e *NotFoundError) Error() string {
	if e.Malformed == nil {
		return e.Err.Error()
	}
	return e.Err.Error() + " (" + e.Malformed.Path + ":" + strconv.Itoa(e.Malformed.Line) +
		" has that name but is malformed and ignored: " + e.Malformed.Why.Error() + ")"
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// scan calls fn for every line of path that is not a comment or blank, until
// fn returns true. A missing or unreadable file reads as empty, as upstream.
func scan(path string, fn func(line []byte, n int) bool) error {
	fd, err := open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil
		}
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	l := newLines(fdReader(fd))
	for {
		line, err := l.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if !skip(line) && fn(line, l.n) {
			return nil
		}
	}
}

// open opens a file for reading with plain system calls: os.Open would first
// set up Go's network poller (an epoll instance, an eventfd and a thread),
// which is most of what a lookup costs at start-up.
func open(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// UserByName returns the first well-formed passwd entry called name.
func (db DB) UserByName(name string) (User, error) {
	var u User
	var bad *Malformed
	found := false
	err := scan(db.Passwd, func(line []byte, n int) bool {
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
		return User{}, &NotFoundError{Err: ErrNoPasswdEntries, Malformed: bad}
	}
	return u, nil
}

// UserByID returns the first well-formed passwd entry with this uid, and
// whether there is one.
func (db DB) UserByID(uid uint32) (User, bool, error) {
	var u User
	found := false
	err := scan(db.Passwd, func(line []byte, _ int) bool {
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
	err := scan(db.Group, func(line []byte, n int) bool {
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
		return Group{}, &NotFoundError{Err: ErrNoGroupEntries, Malformed: bad}
	}
	return g, nil
}

// GroupsOf returns the gids of every well-formed group entry that lists user
// as a member, in file order, each gid once. A user's primary group is not
// added: the member lists alone decide, as upstream.
func (db DB) GroupsOf(user string) ([]uint32, error) {
	var gids []uint32
	seen := make(map[uint32]bool)
	err := scan(db.Group, func(line []byte, _ int) bool {
		if p, err := parseGroup(line); err == nil && !seen[p.gid] && p.hasMember(user) {
			seen[p.gid] = true
			gids = append(gids, p.gid)
		}
		return false
	})
	return gids, err
}
