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
	PasswdLine, GroupLine, ShadowLine        string // without "\n"; set when the Add is
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
	// ErrNotWritable is a file or directory that may not be changed.
	ErrNotWritable = errors.New("not writable")
	// ErrLocked is a lock held by another process for too long.
	ErrLocked = errors.New("lock held too long")
)

// The kinds of account file find reads.
const (
	passwd = iota
	group
	shadow
)

// Check decides what adding r's entries would write, reading only. It fails
// when r is invalid, when a name is taken by another id, or when a file that
// must change cannot be written, so that nothing is changed in those cases.
func (f Files) Check(r Request) (Plan, error) { return f.run(r, false, false) }

// run is Check, and with apply Apply's work under the locks: every file is
// read, and the decision made again, under flock(2) of the file, held until
// the end (closing fds releases them), and the missing lines are written.
func (f Files) run(r Request, apply, locked bool) (Plan, error) {
	fds := [3]int{-1, -1, -1}
	p, err := f.decide(r, apply, locked, &fds)
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	return p, err
}

func (f Files) decide(r Request, apply, locked bool, fds *[3]int) (p Plan, err error) {
	if max(r.UID, r.GID) > account.MaxID {
		return p, &failure{msg: "invalid id 4294967295: " + account.ErrRange.Error(), kind: ErrInvalid, err: account.ErrRange}
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
	var pst, st unix.Stat_t
	var pdata, data []byte
	fds[0], pdata, err = f.load(f.Passwd, apply, &pst)
	if err != nil {
		return p, err
	}
	u, found, err := find(f.Passwd, pdata, passwd, r.UID, p.Name)
	if err != nil {
		return p, err
	}
	p.AddPasswd = !found
	if found {
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

	fds[1], data, err = f.load(f.Group, apply, &st)
	if err != nil {
		return p, err
	}
	g, found, err := find(f.Group, data, group, r.GID, p.Group)
	switch {
	case err != nil:
		return p, err
	case found:
		p.Group = g.Name
	case !validName(p.Group): // named after an existing entry that shadow would refuse
		return p, invalid("group name ", p.Group, false)
	default:
		p.AddGroup, p.GroupLine = true, p.Group+":x:"+gid+":"
		if err = access(f.Group, unix.W_OK); err == nil && apply {
			err = write(f.Group, &st, data, p.GroupLine, locked)
		}
		if err != nil {
			return p, fail("cannot add gid "+gid+" to "+f.Group, err)
		}
	}
	if !p.AddPasswd {
		return p, nil
	}
	if err = access(f.Passwd, unix.W_OK); err != nil {
		return p, fail("cannot add uid "+uid+" to "+f.Passwd, err)
	}

	// Shadow gets a line only when it exists and may be written; absent or
	// unreadable, it is skipped silently: it serves PAM and pwck, and the
	// account works without it. The passwd password is "x" ("see shadow")
	// only when shadow has the line: with "x" and none, pam_unix's account
	// check fails (su, runuser, cron refuse the user); "*" matches no input.
	pw := ":*:"
	var shadowErr error
	if fds[2], data, shadowErr = f.load(f.Shadow, apply, &st); shadowErr == nil {
		_, found, err := find(f.Shadow, data, shadow, r.UID, p.Name)
		if err != nil {
			return p, err
		}
		if !found && access(f.Shadow, unix.W_OK) == nil {
			// Debian 12's useradd line: locked, aging from login.defs.
			p.AddShadow, p.ShadowLine = true, p.Name+":!:"+strconv.FormatInt(time.Now().Unix()/86400, 10)+":0:99999:7:::"
			if apply {
				if err = write(f.Shadow, &st, data, p.ShadowLine, locked); err != nil {
					return p, fail("cannot add uid "+uid+" to "+f.Shadow, err)
				}
			}
		}
		if found || p.AddShadow {
			pw = ":x:"
		}
	}
	p.PasswdLine = p.Name + pw + uid + ":" + gid + "::" + p.Home + ":" + p.Shell

	// The home is made when nothing (not even a dangling symlink) is there
	// and the nearest existing ancestor may be written. A caller that is
	// not root and may not write there (OpenShift) goes on without a home.
	if unix.Lstat(p.Home, &st) != nil {
		dir := p.Home
		for {
			dir = dir[:max(strings.LastIndexByte(dir, '/'), 1)]
			if err = access(dir, unix.W_OK|unix.X_OK); err != unix.ENOENT || dir == "/" {
				break
			}
		}
		p.MakeHome = err == nil
		if err == nil && apply {
			dir, err = p.Home, makeHome(p.Home, r.UID, r.GID)
		}
		if err != nil && (p.MakeHome || unix.Geteuid() == 0) {
			return p, fail("cannot create home directory "+p.Home+" for uid "+uid+": "+dir, err)
		}
	}
	if apply {
		if err = write(f.Passwd, &pst, pdata, p.PasswdLine, locked); err != nil {
			return p, fail("cannot add uid "+uid+" to "+f.Passwd, err)
		}
	}
	return p, nil
}

// find looks in data, the content of path, for the well-formed passwd or
// group entry of id, or for the shadow line of name. Lacking that, any line
// called name is a conflict: another id's, or a malformed line, which
// lenient parsers (upstream gosu's) read as id 0. A shadow line with a
// usable or empty password is one too: the new account would get it; a
// locked one is found, as it may be ours from a start stopped before the
// passwd line. Lines end and are skipped as package account reads them.
func find(path string, data []byte, kind int, id uint32, name string) (account.User, bool, error) {
	what, clash, why := "uid ", 0, ""
	if kind == group {
		what = "gid "
	}
	for n := 1; len(data) > 0; n++ {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data, line = rest, bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > account.MaxLine {
			return account.User{}, false, &account.LineError{Path: path, Line: n, Err: account.ErrLineTooLong}
		}
		if len(bytes.TrimLeft(line, " \t")) == 0 || line[0] == '#' {
			continue
		}
		lineName, pw, _ := bytes.Cut(line, []byte{':'})
		var u account.User
		var err error
		switch kind {
		case passwd:
			u, err = account.ParseUser(line)
		case group:
			var g account.Group
			g, err = account.ParseGroup(line)
			u = account.User{Name: g.Name, UID: g.GID}
		default:
			if string(lineName) != name {
				continue
			}
			if len(pw) > 0 && (pw[0] == '!' || pw[0] == '*') {
				return u, true, nil
			}
			clash, why = n, " still has a password for that name, which the new account would get"
			data = nil
			continue
		}
		if err == nil && u.UID == id {
			return u, true, nil
		}
		if clash == 0 && string(lineName) == name {
			clash, why = n, " gives that name to "+what+utoa(u.UID)
			if err != nil {
				why = " has that name but is malformed (" + err.Error() + ")"
			}
		}
	}
	if clash == 0 {
		return account.User{}, false, nil
	}
	return account.User{}, false, &failure{msg: "cannot add " + what + utoa(id) + " as " + strconv.Quote(name) + ": " +
		path + ":" + strconv.Itoa(clash) + why + "; choose another name", kind: ErrConflict}
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

func invalid(what, value string, path bool) error {
	rule := ": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)"
	if path {
		rule = ": it must be an absolute path without '.' or '..' parts, ':' or control characters"
	}
	return &failure{msg: "invalid " + what + strconv.Quote(value) + rule, kind: ErrInvalid}
}

// failure is one line for the user; errors.Is finds its kind (one of the
// Err variables) and the system error behind it.
type failure struct {
	_         [0]func() // not comparable: no generated equality function
	msg       string
	kind, err error
}

func (e *failure) Error() string   { return e.msg }
func (e *failure) Unwrap() []error { return []error{e.kind, e.err} }

// fail is msg, ": " and err, unless err is a failure, already explained.
// A type assertion, not errors.As: that brings internal/reflectlite.
func fail(msg string, err error) error {
	if _, ok := err.(*failure); ok {
		return err
	}
	e := &failure{msg: msg + ": " + err.Error(), err: err}
	if err == unix.EACCES || err == unix.EPERM || err == unix.EROFS {
		e.kind = ErrNotWritable
	}
	return e
}

func utoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
