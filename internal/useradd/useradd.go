// Package useradd writes the account entries that entrypoints otherwise
// write with useradd, groupadd, usermod and groupmod, safely and only when
// they are missing or wrong, so that the program gosu starts finds itself
// in /etc/passwd and /etc/group: HOME, whoami, id -un and ~ work.
//
// Check and Apply give a uid that has no passwd entry one (and its gid a
// group), replacing the entrypoint idiom
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
// CheckRemap and Apply give an existing user other ids, keeping its name,
// home, shell and groups: LinuxServer.io's "usermod -o -u $PUID abc;
// groupmod -o -g $PGID abc" and fixuid.
//
// What changes is decided by pure functions of the files' contents
// (decideAdd, decideRemap), read through package account's line scanner and
// parsers, so a malformed line never counts as an entry. Writes follow
// shadow's tools: the lckpwdf(3) lock, then a complete copy renamed over the
// file, so a reader or a crash sees the old content or the new, never a
// torn file. Where rename cannot work (a bind-mounted file, or an /etc that
// is not writable while the file is) a new line is appended in place with a
// single write(2); a changed line is then refused.
package useradd

import (
	"errors"
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

// Request says which identity needs entries (--add-user).
type Request struct {
	UID, GID uint32
	Name     string // "" = "user<UID>", e.g. user1000680000
	Group    string // name of a group added for GID; "" = see decideAdd
	Home     string // "" = "/home/<name>"
	Shell    string // "" = "/bin/sh"
}

// Remap says which user gets which ids (--remap-user).
type Remap struct {
	Name     string
	UID, GID uint32
	// AllowDuplicateUID lets UID be another entry's too (usermod -o).
	AllowDuplicateUID bool
}

// Change is one line a Plan adds to an account file, or puts in place of
// another.
type Change struct {
	Line string // without its line ending
	Old  string // the line it replaces; "" when Line is added at the end
	off  int    // where Old starts in the file
}

// Changes are the lines a Plan writes, per file.
type Changes struct {
	Passwd, Group, Shadow *Change
}

// Plan is what Apply will do, as Check or CheckRemap found it.
type Plan struct {
	_ [0]func() // not comparable: no generated equality function

	// The entry as it will be: its name, its primary group's name ("" when
	// that gid has no group), home, shell and ids.
	Name, Group, Home, Shell string
	UID, GID                 uint32

	// Found says the uid already had an entry (--add-user), whose name,
	// home and shell these are.
	Found bool
	// OldUID and OldGID are the entry's ids before the plan: the ids its
	// files are re-owned from (--remap-user).
	OldUID, OldGID uint32
	// Shares names another entry that has UID too (AllowDuplicateUID).
	Shares string

	Changes  Changes
	MakeHome bool // the home directory is made (--add-user)

	add   *Request // what Apply decides again, under the locks
	remap *Remap
}

// Nothing reports whether there is nothing to write.
func (p *Plan) Nothing() bool {
	return p.Changes == (Changes{}) && !p.MakeHome
}

var (
	// ErrConflict is a name or id that another entry has.
	ErrConflict = errors.New("name taken")
	// ErrInvalid is a request value that cannot go into an account file.
	ErrInvalid = errors.New("invalid value")
	// ErrLocked is a lock held by another process for too long.
	ErrLocked = errors.New("another process (useradd, passwd, vipw, gosu) holds the lock")
	// ErrNoUser is a user to remap that has no entry.
	ErrNoUser = errors.New("no such user")
	// ErrUIDTaken is a uid to remap to that another entry has.
	ErrUIDTaken = errors.New("uid taken")
	// ErrUnsafe is an account file that cannot be written safely: a
	// symbolic link, a file in a directory others may write, or a line
	// that would have to be rewritten in place.
	ErrUnsafe = errors.New("not safe to write")
)

// Check decides what adding r's entries would write, reading only. It fails
// when r is invalid, when a name is taken by another id, or when a file
// that must change cannot be written, so that nothing is changed in those
// cases.
func (f *Files) Check(r Request) (*Plan, error) { return f.check(&Plan{add: &r}) }

// CheckRemap decides what giving r.Name the ids r.UID and r.GID would
// write, reading only, and fails, changing nothing, when it is refused or a
// file that must change cannot be written.
func (f *Files) CheckRemap(r Remap) (*Plan, error) { return f.check(&Plan{remap: &r}) }

func (f *Files) check(p *Plan) (*Plan, error) {
	c, err := f.read(false)
	defer c.close()
	if err == nil {
		err = p.decide(c)
	}
	if err == nil {
		err = c.writable(p)
	}
	var st unix.Stat_t
	if err == nil && !p.Nothing() && unix.Lstat(f.Lock, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		err = f.lockLink()
	}
	if err == nil && p.add != nil {
		err = p.checkHome(false)
	}
	return p, err
}

// decide makes p's decision, from its request, on what c holds; p is
// fresh, with only its request set.
func (p *Plan) decide(c *contents) error {
	if p.add != nil {
		return decideAdd(c, p.add, today(), p)
	}
	return decideRemap(c, p.remap, p)
}

// today is the day count shadow's tools write as the last password change.
func today() int64 { return time.Now().Unix() / 86400 }

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
	if len(s) == 0 || len(s) >= 4096 || s[0] != '/' {
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

// validIDs refuses (uid_t)-1, which no entry may have.
func validIDs(ids ...uint32) error {
	for _, id := range ids {
		if id > account.MaxID {
			return errs.Explain("invalid id 4294967295: uids and gids must be in range 0-4294967294", ErrInvalid)
		}
	}
	return nil
}
