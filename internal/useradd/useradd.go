// Package useradd gives a uid that has no passwd entry one (and its gid a
// group), so that the program gosu starts finds itself in /etc/passwd and
// /etc/group: HOME, whoami, id -un and ~ work as for any other user.
//
// It replaces the entrypoint idiom
//
//	groupadd -g "$GROUP_ID" g; useradd -u "$USER_ID" -g g -m u
//
// which fails when the gid already has a group ("groupadd: GID '100' already
// exists") and on every restart, and which OpenShift's arbitrary uids cannot
// run at all: there the image makes /etc/passwd group-writable and the
// entrypoint appends to it by hand. Here an entry is added only when missing
// (a restart writes nothing), an existing group is used as it is, and a name
// that belongs to someone else is refused, never altered.
//
// Reading goes through the strict parser of package account, so a malformed
// line never counts as an entry. Writes follow shadow's tools: the
// lckpwdf(3) lock, then a complete copy renamed over the file, so a reader or
// a crash sees the old content or the new, never a torn file. Where rename
// cannot work (a bind-mounted file, or an /etc that is not writable while the
// file is) the line is appended in place with a single write(2).
package useradd

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/errs"
)

// Files names the account files. Only System is used by gosu itself; other
// paths exist for unit tests.
type Files struct {
	Passwd, Group, Shadow string
	Lock                  string        // lckpwdf(3)'s lock file
	LockWait              time.Duration // 0: 15 s, as lckpwdf(3)
}

// System is the machine's account database and shadow's lock file.
var System = Files{Passwd: "/etc/passwd", Group: "/etc/group", Shadow: "/etc/shadow", Lock: "/etc/.pwd.lock"}

// Request says which identity needs entries.
type Request struct {
	UID, GID uint32
	Name     string // "" = "user<UID>", e.g. user1000680000
	Group    string // name of a group added for GID; "" = the user's name
	Home     string // "" = "/home/<name>"
	Shell    string // "" = "/bin/sh"
}

// Plan is what Apply will do, as Check found it. Name, Home and Shell are
// the existing entry's when the uid has one; Group is the existing group's
// when the gid has one.
type Plan struct {
	_                                        [0]func() // not comparable: no generated equality function
	Name, Group, Home, Shell                 string
	AddPasswd, AddGroup, AddShadow, MakeHome bool
	PasswdLine, GroupLine                    string // without "\n"; set when the Add is
}

// Nothing reports whether there is nothing to write.
func (p Plan) Nothing() bool {
	return !p.AddPasswd && !p.AddGroup && !p.AddShadow && !p.MakeHome
}

var (
	// ErrConflict is a name that another id already has.
	ErrConflict = errors.New("name taken")
	// ErrInvalid is a request value that cannot go into an account file.
	ErrInvalid = errors.New("invalid value")
	// ErrLocked is a lock held by another process for too long.
	ErrLocked = errors.New("another process (useradd, passwd, vipw, gosu) holds the lock")
)

// The kinds of account file.
const (
	passwd = iota
	group
	shadow
)

// How step works on a file: reading only (Check), or adding in place, or,
// holding lckpwdf's lock, by replacing the file (Apply).
const (
	check = iota
	inPlace
	replacing
)

// Check decides what adding r's entries would write, reading only. It fails
// when r is invalid, when a name is taken by another id, or when a file that
// must change cannot be written, so that nothing is changed in those cases.
func (f *Files) Check(r Request) (Plan, error) { return f.run(&r, check) }

// run is Check, or, with a mode other than check, Apply's work: each file
// is read, and the decision made again, under flock(2) of the file, before
// its line is added. The order makes every prefix of the work a state that
// the next start accepts and completes: group, shadow (before the name
// exists), home, passwd last.
func (f *Files) run(r *Request, mode int) (p Plan, err error) {
	if max(r.UID, r.GID) > account.MaxID {
		return p, errs.Explain("invalid id 4294967295: uids and gids must be in range 0-4294967294", ErrInvalid)
	}
	for i, v := range [...]string{r.Name, r.Group, r.Home, r.Shell} {
		if v != "" && (i < 2 && !validName(v) || i >= 2 && !validPath(v)) {
			return p, invalid([...]string{"user name ", "group name ", "home directory ", "shell "}[i], v, i >= 2)
		}
	}
	uid, gid := utoa(r.UID), utoa(r.GID)
	p = Plan{Name: r.Name, Group: r.Group, Home: r.Home, Shell: r.Shell}
	if p.Name == "" {
		p.Name = "user" + uid
	}
	entry, _, err := f.step(f.Passwd, passwd, r.UID, p.Name, "", check)
	if err != nil {
		return p, err
	}
	if entry != nil {
		u, _ := account.ParseUser(entry)
		p.Name, p.Home, p.Shell = u.Name, u.Home, u.Shell
	}
	if p.Home == "" {
		p.Home = "/home/" + p.Name
	}
	if p.Shell == "" {
		p.Shell = "/bin/sh"
	}
	if p.Group == "" {
		p.Group = p.Name
	}

	line := "" // a group named after an existing user may be a name shadow refuses
	if validName(p.Group) {
		line = p.Group + ":x:" + gid + ":"
	}
	g, ok, err := f.step(f.Group, group, r.GID, p.Group, line, mode)
	switch {
	case err != nil:
		return p, err
	case !ok:
		return p, invalid("group name ", p.Group, false)
	case g != nil:
		p.Group = string(g[:bytes.IndexByte(g, ':')])
	default:
		p.AddGroup, p.GroupLine = true, line
	}
	if entry != nil {
		return p, nil
	}
	p.AddPasswd = true

	// Shadow gets Debian 12 useradd's line (locked, aging from login.defs)
	// only when it exists and may be written. The passwd password is "x"
	// ("see shadow") only when shadow has the line: with "x" and none,
	// pam_unix's account check fails (su, runuser, cron refuse the user);
	// "*" matches no input.
	day := strconv.FormatInt(time.Now().Unix()/86400, 10)
	s, ok, err := f.step(f.Shadow, shadow, r.UID, p.Name, p.Name+":!:"+day+":0:99999:7:::", mode)
	if err != nil {
		return p, err
	}
	p.AddShadow = ok && s == nil
	pw := ":*:"
	if ok {
		pw = ":x:"
	}
	p.PasswdLine = p.Name + pw + uid + ":" + gid + "::" + p.Home + ":" + p.Shell

	// The home is made when nothing (not even a dangling symlink) is there
	// and the nearest existing ancestor may be written. A caller that is
	// not root and may not write there (OpenShift) goes on without a home.
	var st unix.Stat_t
	if unix.Lstat(p.Home, &st) != nil {
		dir := p.Home
		for {
			dir = dir[:max(strings.LastIndexByte(dir, '/'), 1)]
			if err = access(dir, unix.W_OK|unix.X_OK); err != unix.ENOENT || dir == "/" {
				break
			}
		}
		p.MakeHome = err == nil
		if err == nil && mode != check {
			err = makeHome(p.Home, r.UID, r.GID)
		}
		if err != nil && (p.MakeHome || unix.Geteuid() == 0) {
			return p, errs.Wrap("cannot create home directory "+p.Home+" in "+dir, err)
		}
	}
	_, _, err = f.step(f.Passwd, passwd, r.UID, p.Name, p.PasswdLine, mode)
	return p, err
}

// find looks in data, the content of path, for the well-formed passwd or
// group entry of id, or for the shadow line of name. Lacking that, any line
// called name is a conflict: another id's, or a malformed line, which
// lenient parsers (upstream gosu's) read as id 0. A shadow line with a
// usable or empty password is one too: the new account would get it; a
// locked one is found, as it may be ours from a start stopped before the
// passwd line. Lines end and are skipped as package account reads them.
func find(path string, data []byte, kind int, id uint32, name string) ([]byte, error) {
	what, clash, why := "uid ", 0, ""
	if kind == group {
		what = "gid "
	}
	for n := 1; len(data) > 0; n++ {
		line := data
		data = nil
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, data = line[:i], line[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimLeft(line, " \t")) == 0 || line[0] == '#' {
			continue
		}
		lineName, pw := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			lineName, pw = line[:i], line[i+1:]
		}
		var lineID uint32
		var err error
		switch kind {
		case passwd:
			var u account.User
			u, err = account.ParseUser(line)
			lineID = u.UID
		case group:
			var g account.Group
			g, err = account.ParseGroup(line)
			lineID = g.GID
		default:
			if string(lineName) != name {
				continue
			}
			if len(pw) > 0 && (pw[0] == '!' || pw[0] == '*') {
				return line, nil
			}
			clash, why = n, " still has a password for that name, which the new account would get"
			data = nil // the first line for the name decides
			continue
		}
		if err == nil && lineID == id {
			return line, nil
		}
		if clash == 0 && string(lineName) == name {
			clash, why = n, " gives that name to "+what+utoa(lineID)
			if err != nil {
				why = " has that name but is malformed (" + err.Error() + ")"
			}
		}
	}
	if clash == 0 {
		return nil, nil
	}
	return nil, errs.Explain("cannot add "+what+utoa(id)+" as "+errs.Quote(name)+": "+
		path+":"+strconv.Itoa(clash)+why+"; choose another name", ErrConflict)
}

// validName is shadow's is_valid_user_name, conservatively: the portable
// set that useradd accepts without --badname, at most 32 bytes (utmp's
// ut_user). It cannot start with '-' or '+' (options, NIS compat entries),
// contain ':' or a newline, or be all digits (a number is always a uid).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		case i > 0 && i == len(s)-1 && c == '$':
		default:
			return false
		}
	}
	return true
}

// validPath accepts a clean absolute path that fits a passwd field: no
// ':' (the separator), no control characters (a newline would start a new
// entry), no empty, '.' or '..' parts (the home is created component by
// component, and ".." would escape it).
func validPath(s string) bool {
	if len(s) == 0 || len(s) >= unix.PathMax || s[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(s) && s != "/"; i++ {
		if i < len(s) && s[i] != '/' {
			if c := s[i]; c == ':' || c < 0x20 || c == 0x7f {
				return false
			}
			continue
		}
		if part := s[start:i]; part == "" || part == "." || part == ".." {
			return false
		}
		start = i + 1
	}
	return true
}

// invalid explains a request value that cannot go into an account file.
func invalid(what, value string, path bool) error {
	rule := ": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)"
	if path {
		rule = ": it must be an absolute path without '.' or '..' parts, ':' or control characters"
	}
	return errs.Explain("invalid "+what+errs.Quote(value)+rule, ErrInvalid)
}

func utoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
