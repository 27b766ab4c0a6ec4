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
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
)

// Files names the account files. Only System is used by gosu itself; other
// paths exist for unit tests.
type Files struct {
	Passwd, Group, Shadow, Gshadow string
	Lock                           string        // lckpwdf(3)'s lock file
	LockWait                       time.Duration // 0: 15 s, as lckpwdf(3)
}

// System is the machine's account database and shadow's lock file.
var System = Files{
	Passwd:  "/etc/passwd",
	Group:   "/etc/group",
	Shadow:  "/etc/shadow",
	Gshadow: "/etc/gshadow",
	Lock:    "/etc/.pwd.lock",
}

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
	Name, Group, Home, Shell                             string
	AddPasswd, AddGroup, AddShadow, AddGshadow, MakeHome bool
	PasswdLine, GroupLine, ShadowLine, GshadowLine       string // without "\n"; set when the Add is
	shadowHas, gshadowHas                                bool   // a line for the name is already there
}

// Nothing reports whether there is nothing to write.
func (p Plan) Nothing() bool {
	return !p.AddPasswd && !p.AddGroup && !p.AddShadow && !p.AddGshadow && !p.MakeHome
}

const (
	// homeMode is what Debian 12's useradd -m gives a home: login.defs sets
	// no HOME_MODE, so it is 0777 &^ UMASK (022) = 0755, whatever the
	// process's umask.
	homeMode = 0o755
	// shadowAging is the aging part of the shadow line Debian 12's useradd
	// writes from login.defs (PASS_MIN_DAYS 0, PASS_MAX_DAYS 99999,
	// PASS_WARN_AGE 7): the password never has to change.
	shadowAging = ":0:99999:7:::"
)

// Check decides what adding r's entries would write, reading only. It fails when
// r is invalid, when a name is taken by another id, or when a file that
// must change cannot be written, so that nothing is changed in those cases.
func (f Files) Check(r Request) (Plan, error) {
	p := Plan{Name: r.Name, Group: r.Group, Home: r.Home, Shell: r.Shell}
	if err := f.check(&p, r); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// check fills in p, which holds r's names, for Check. It works in place so
// that its many failures do not each copy a Plan.
func (f Files) check(p *Plan, r Request) error {
	if err := r.valid(); err != nil {
		return err
	}
	if p.Name == "" {
		p.Name = "user" + utoa(r.UID)
	}
	if p.Home == "" {
		p.Home = "/home/" + p.Name
	}
	if p.Shell == "" {
		p.Shell = "/bin/sh"
	}

	pw, err := readDB(f.Passwd)
	if err != nil {
		return err
	}
	lineX, lineStar := passwdLine(*p, r, true), passwdLine(*p, r, false)
	u, err := findUser(f.Passwd, untorn(pw.data, lineX, lineStar), r.UID, p.Name)
	if err != nil {
		return err
	}
	if u != nil {
		p.Name, p.Home, p.Shell = u.Name, u.Home, u.Shell
	} else {
		p.AddPasswd = true
	}
	if p.Group == "" {
		p.Group = p.Name
	}

	gr, err := readDB(f.Group)
	if err != nil {
		return err
	}
	p.GroupLine = p.Group + ":x:" + utoa(r.GID) + ":"
	g, err := findGroup(f.Group, untorn(gr.data, p.GroupLine), r.GID, p.Group)
	if err != nil {
		return err
	}
	if g != nil {
		p.Group, p.GroupLine = g.Name, ""
	} else {
		if !validName(p.Group) {
			return fail("cannot add gid "+utoa(r.GID)+": "+strconv.Quote(p.Group)+" is not a valid group name", ErrInvalid, nil)
		}
		if err := canAdd(f, f.Group, gr); err != nil {
			return cannotAdd("gid "+utoa(r.GID), f.Group, err)
		}
		p.AddGroup = true
		p.GshadowLine = p.Group + ":!::"
		if p.gshadowHas, p.AddGshadow, err = f.optional(f.Gshadow, p.Group, p.GshadowLine); err != nil {
			return err
		}
	}

	if !p.AddPasswd {
		return nil
	}
	p.ShadowLine = p.Name + ":!:" + strconv.FormatInt(time.Now().Unix()/86400, 10) + shadowAging
	if p.shadowHas, p.AddShadow, err = f.optional(f.Shadow, p.Name, p.ShadowLine); err != nil {
		return err
	}
	p.PasswdLine = passwdLine(*p, r, p.shadowHas || p.AddShadow)
	if err := canAdd(f, f.Passwd, pw); err != nil {
		return cannotAdd("uid "+utoa(r.UID), f.Passwd, err)
	}
	if p.MakeHome, err = homeMissing(p.Home); err != nil {
		return homeError(p.Home, r.UID, err)
	}
	if !p.AddShadow {
		p.ShadowLine = ""
	}
	if !p.AddGshadow {
		p.GshadowLine = ""
	}
	return nil
}

// passwdLine is the entry for the plan's user. The password field is "x",
// "see shadow", only when shadow has a line for the name: with "x" and no
// shadow line, pam_unix's account check fails (su, runuser, cron refuse the
// user); "*" is a password no input matches, and needs no shadow line.
func passwdLine(p Plan, r Request, shadowed bool) string {
	pw := "*"
	if shadowed {
		pw = "x"
	}
	return p.Name + ":" + pw + ":" + utoa(r.UID) + ":" + utoa(r.GID) + "::" + p.Home + ":" + p.Shell
}

// optional decides about shadow or gshadow, which get a line only when
// they exist and may be written, and which are skipped silently otherwise:
// they are for PAM and pwck/grpck, and the account works without them.
// has reports a line for the name that is already there.
func (f Files) optional(path, name, line string) (has, add bool, err error) {
	db, err := readDB(path)
	if err != nil || !db.exists {
		return false, false, nil // absent or unreadable: nothing to check it against
	}
	has, err = findShadow(path, untorn(db.data, line), name)
	if err != nil || has {
		return has, false, err
	}
	return false, canAdd(f, path, db) == nil, nil
}

// Apply carries out p for uid and gid, deciding again under the locks, so
// that a concurrent gosu or useradd, or a second start, never adds an entry
// twice; with nothing to do it writes nothing, not even the lock file.
//
// The order makes every prefix of the work a state Check accepts and
// completes: each shadow line before the line that makes its name exist
// (gshadow, group, shadow, home, passwd), the passwd line last.
func (f Files) Apply(p Plan, uid, gid uint32) error {
	if p.Nothing() {
		return nil
	}
	r := Request{UID: uid, GID: gid, Name: p.Name, Group: p.Group, Home: p.Home, Shell: p.Shell}
	if _, err := f.Check(r); err != nil {
		return err // before creating the lock file: a refusal leaves no trace
	}
	w := writer{deadline: time.Now().Add(f.wait()), wait: f.wait()}
	lock, err := lockDB(f.Lock, w.deadline, w.wait)
	if err != nil {
		return err
	}
	defer lock.release()
	q, err := f.Check(r)
	if err != nil {
		return err
	}
	w.locked = lock.fd >= 0

	if q.AddGshadow {
		if _, err := w.addOptional(f.Gshadow, q.Group, q.GshadowLine); err != nil {
			return cannotAdd(q.Group, f.Gshadow, err)
		}
	}
	if q.AddGroup {
		_, err := w.add(f.Group, q.GroupLine, true, func(path string, body []byte) (bool, error) {
			g, err := findGroup(path, body, gid, q.Group)
			return g != nil, err
		})
		if err != nil {
			return cannotAdd("gid "+utoa(gid), f.Group, err)
		}
	}
	shadowed := q.shadowHas
	if q.AddShadow {
		if shadowed, err = w.addOptional(f.Shadow, q.Name, q.ShadowLine); err != nil {
			return cannotAdd(q.Name, f.Shadow, err)
		}
	}
	if q.MakeHome {
		if err := makeHome(q.Home, uid, gid); err != nil {
			return homeError(q.Home, uid, err)
		}
	}
	if q.AddPasswd {
		line := passwdLine(q, Request{UID: uid, GID: gid}, shadowed)
		_, err := w.add(f.Passwd, line, true, func(path string, body []byte) (bool, error) {
			u, err := findUser(path, body, uid, q.Name)
			return u != nil, err
		})
		if err != nil {
			return cannotAdd("uid "+utoa(uid), f.Passwd, err)
		}
	}
	return nil
}

func (f Files) wait() time.Duration {
	if f.LockWait > 0 {
		return f.LockWait
	}
	return 15 * time.Second
}

func utoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// valid checks what the request would write into a colon-separated file.
func (r Request) valid() error {
	if r.UID > account.MaxID || r.GID > account.MaxID {
		return fail("invalid id "+utoa(max(r.UID, r.GID)), ErrInvalid, account.ErrRange)
	}
	const name = ": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)"
	const path = ": it must be an absolute path without '.' or '..' parts, ':' or control characters"
	for _, v := range [...]struct {
		what, value, rule string
		ok                func(string) bool
	}{
		{"user name ", r.Name, name, validName},
		{"group name ", r.Group, name, validName},
		{"home directory ", r.Home, path, validPath},
		{"shell ", r.Shell, path, validPath},
	} {
		if v.value != "" && !v.ok(v.value) {
			return &failure{msg: "invalid " + v.what + strconv.Quote(v.value) + v.rule, errs: []error{ErrInvalid}}
		}
	}
	return nil
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
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ':' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	if s == "/" {
		return true
	}
	for _, part := range strings.Split(s[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}
