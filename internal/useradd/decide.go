package useradd

import (
	"bytes"
	"strconv"

	"gosu/internal/account"
	"gosu/internal/errs"
)

// The decisions: pure functions of the files' contents and the request,
// which Check makes to say what would change and Apply makes again under
// the locks, on what the files hold then.

// contents is what the account files held when they were read.
type contents struct {
	passwd, group, shadow accountFile
}

// scan reads a's lines by package account's rules.
func (a *accountFile) scan() *account.Scanner {
	return account.NewScanner(bytes.NewReader(a.data), a.path)
}

// taken explains a line that gives name to another id, or that has the
// name but is malformed, which lenient parsers (upstream gosu's) read as id
// 0: either way the name cannot be added for id.
func taken(what string, id uint32, name, path string, n int, other uint32, malformed error) error {
	why := " gives that name to " + what + strconv.FormatUint(uint64(other), 10)
	if malformed != nil {
		why = " has that name but is malformed (" + malformed.Error() + ")"
	}
	return errs.Explain("cannot add "+what+strconv.FormatUint(uint64(id), 10)+" as "+errs.Quote(name)+": "+
		path+":"+strconv.Itoa(n)+why+"; choose another name", ErrConflict)
}

// userByID returns the first well-formed passwd entry with uid. Without
// one, the first line called name, if any, is a conflict for adding name.
func userByID(a *accountFile, uid uint32, name string) (*account.User, error) {
	if line, n := entryWith(a, false, uid, ""); n != 0 {
		u, _ := account.ParseUser(line)
		return &u, nil
	}
	line, n, _, _, err := named(a, name)
	if n == 0 || err != nil {
		return nil, err
	}
	id, _, err := account.UserIDs(line)
	return nil, taken("uid ", uid, name, a.path, n, id, err)
}

// groupByID returns the name of the first well-formed group with gid.
func groupByID(a *accountFile, gid uint32) (string, bool, error) {
	s := a.scan()
	for s.Scan() {
		if id, err := account.GroupID(s.Line()); err == nil && id == gid {
			return string(account.FirstField(s.Line())), true, s.Err()
		}
	}
	return "", false, s.Err()
}

// named finds the first line of a called name (nameOf), well-formed or not: its
// content, number and offset; and the number of a second one, 0 if none.
func named(a *accountFile, name string) (line []byte, n, off, second int, err error) {
	s := a.scan()
	for s.Scan() {
		if nameOf(s.Line()) != name {
			continue
		}
		if n != 0 {
			return line, n, off, s.N(), nil
		}
		line, n, off = bytes.Clone(s.Line()), s.N(), int(s.Offset())
	}
	return line, n, off, 0, s.Err()
}

// entryWith returns the first well-formed passwd entry, not called but,
// whose uid (gid false) or gid is id, and its line number (0: none).
func entryWith(a *accountFile, gid bool, id uint32, but string) ([]byte, int) {
	for s := a.scan(); s.Scan(); {
		uid, g, err := account.UserIDs(s.Line())
		if gid {
			uid = g
		}
		if err == nil && uid == id && (but == "" || nameOf(s.Line()) != but) {
			return bytes.Clone(s.Line()), s.N()
		}
	}
	return nil, 0
}

// nameOf is the name a line gives to glibc, which skips the blanks
// (isspace) that lead a line: " app:x:0:0::/root:/bin/sh" is app, uid 0,
// to su, cron and sshd (and to upstream gosu, which trims every line), so
// it has the name for every decision here, though gosu's own lookups
// (docs/accounts.md) read its name as " app".
func nameOf(line []byte) string {
	return string(bytes.TrimLeft(account.FirstField(line), " \t\v\f\r"))
}

// freeGroupName returns nil when no group line, well-formed or not, is
// called name, else the conflict for adding it for gid.
func freeGroupName(a *accountFile, name string, gid uint32) error {
	line, n, _, _, err := named(a, name)
	if n != 0 {
		id, err := account.GroupID(line)
		return taken("gid ", gid, name, a.path, n, id, err)
	}
	return err
}

// addGroup plans a group line for gid under the first of names ("" is
// none) that no group has.
func addGroup(p *Plan, a *accountFile, gid uint32, names ...string) error {
	var err error
	for _, name := range names {
		if name == "" {
			continue
		}
		if err = freeGroupName(a, name, gid); err == nil {
			p.Group = name
			p.Changes.Group = &Change{Line: name + ":x:" + strconv.FormatUint(uint64(gid), 10) + ":"}
			return nil
		}
	}
	return err
}

// decideAdd decides what gives r.UID a passwd entry and r.GID a group.
//
//   - The uid has a well-formed entry: it is used as it is (Found), whatever
//     name was asked for.
//   - Else a line NAME:x:UID:GID::HOME:SHELL, unless a line already has the
//     name (another uid's, or malformed): a conflict.
//   - The gid has a well-formed group: it is used as it is. Else a group is
//     added: for a new entry, named r.Group, else the new user's name, and
//     a conflict when that is taken; for an existing entry (node's uid 1000
//     with GROUP_ID=1001), named r.Group or r.Name when given and free, else
//     group<GID>, never the entry's own name, which is usually its primary
//     group's already (issue 12.8).
//   - Shadow, when usable, gets a locked line for a new entry, unless it has
//     one for the name: a locked one (from a start stopped before the passwd
//     line) is reused, one with a usable or empty password is a conflict:
//     the new account would get that password.
func decideAdd(c *contents, r *Request, day int64, p *Plan) error {
	if err := validIDs(r.UID, r.GID); err != nil {
		return err
	}
	for i, v := range [...]string{r.Name, r.Group, r.Home, r.Shell} {
		if v != "" && (i < 2 && !validName(v) || i >= 2 && !validPath(v)) {
			return invalid([...]string{"user name ", "group name ", "home directory ", "shell "}[i], v, i >= 2)
		}
	}
	uid, gid := strconv.FormatUint(uint64(r.UID), 10), strconv.FormatUint(uint64(r.GID), 10)
	p.Name, p.Home, p.Shell, p.UID, p.GID, p.OldUID, p.OldGID = cond(r.Name, "user"+uid), r.Home, r.Shell, r.UID, r.GID, r.UID, r.GID
	entry, err := userByID(&c.passwd, r.UID, p.Name)
	if err != nil {
		return err
	}
	if entry != nil {
		p.Found, p.Name, p.Home, p.Shell = true, entry.Name, entry.Home, entry.Shell
	}
	if p.Home == "" && !p.Found {
		p.Home = "/home/" + p.Name
	}
	if p.Shell == "" && !p.Found {
		p.Shell = "/bin/sh"
	}

	name, found, err := groupByID(&c.group, r.GID)
	switch {
	case err != nil:
		return err
	case found:
		p.Group = name
	case !p.Found:
		err = addGroup(p, &c.group, r.GID, cond(r.Group, p.Name))
	default:
		err = addGroup(p, &c.group, r.GID, cond(r.Group, r.Name), "group"+gid)
	}
	if err != nil || p.Found {
		return err
	}

	// The passwd password is "x" ("see shadow") only when shadow has the
	// line: with "x" and none, pam_unix's account check fails (su,
	// runuser, cron refuse the user); "*" matches no input.
	pw := ":*:"
	if c.shadow.usable {
		pw = ":x:"
		locked, err := shadowLine(&c.shadow, r.UID, p.Name)
		if err != nil {
			return err
		}
		if !locked {
			// Debian 12 useradd's line: locked, aging from login.defs.
			p.Changes.Shadow = &Change{Line: p.Name + ":!:" + strconv.FormatInt(day, 10) + ":0:99999:7:::"}
		}
	}
	p.Changes.Passwd = &Change{Line: p.Name + pw + uid + ":" + gid + "::" + p.Home + ":" + p.Shell}
	return nil
}

// shadowLine reports whether shadow has a line for name, locked; a line
// with a usable or empty password is a conflict. The first line for the
// name decides.
func shadowLine(a *accountFile, uid uint32, name string) (bool, error) {
	line, n, _, _, err := named(a, name)
	if n == 0 || err != nil {
		return false, err
	}
	if pw := line[len(account.FirstField(line)):]; len(pw) > 1 && (pw[1] == '!' || pw[1] == '*') {
		return true, nil
	}
	return false, errs.Explain("cannot add uid "+strconv.FormatUint(uint64(uid), 10)+" as "+errs.Quote(name)+": "+a.path+":"+strconv.Itoa(n)+
		" still has a password for that name, which the new account would get; choose another name", ErrConflict)
}

func cond(s, otherwise string) string {
	if s != "" {
		return s
	}
	return otherwise
}

// decideRemap decides what gives r.Name the uid r.UID and the primary gid
// r.GID, keeping its name, home, shell and member lists (usermod -u -g,
// groupmod -g). Refused: a name with no well-formed entry, or on more than
// one line; root or any uid-0 entry; uid or gid 0 as the target; a uid
// another entry has, unless r.AllowDuplicateUID.
//
// The group, when the gid changes: a well-formed group with r.GID is used
// as it is. Else NAME's own group (see below) gets r.GID; else a group is
// added, called NAME or, when that is taken, group<GID>. Shadow is keyed by
// name, which does not change, so it is never written.
func decideRemap(c *contents, r *Remap, p *Plan) error {
	p.Name, p.UID, p.GID = r.Name, r.UID, r.GID
	if err := validIDs(r.UID, r.GID); err != nil {
		return err
	}
	name, path := errs.Quote(r.Name), c.passwd.path
	line, n, off, second, err := named(&c.passwd, r.Name)
	if err != nil {
		return err
	}
	if second != 0 {
		return errs.Explain(path+":"+strconv.Itoa(n)+" and line "+strconv.Itoa(second)+" both have the name "+name+
			": remove one, so that every reader agrees which is "+name, ErrConflict)
	}
	entry, err := account.ParseUser(line)
	switch {
	case n == 0 || err != nil:
		why := ""
		if n != 0 {
			why = " (" + path + ":" + strconv.Itoa(n) + " has that name but is malformed: " + err.Error() + ")"
		}
		return errs.Explain("no user "+name+" in "+path+why+"; --add-user="+errs.Printable(r.Name)+" adds a user of that name", ErrNoUser)
	case entry.UID == 0:
		return errs.Explain(name+" has uid 0: root's ids are never changed", ErrInvalid)
	case r.UID == 0 || r.GID == 0:
		return errs.Explain("uid and gid 0 are root's: give "+name+" the ids COMMAND should run as", ErrInvalid)
	}
	p.Home, p.Shell, p.OldUID, p.OldGID = entry.Home, entry.Shell, entry.UID, entry.GID
	if other, at := entryWith(&c.passwd, false, r.UID, r.Name); at != 0 && entry.UID != r.UID {
		p.Shares = string(account.FirstField(other))
		if !r.AllowDuplicateUID {
			return errs.Explain("uid "+strconv.FormatUint(uint64(r.UID), 10)+" belongs to "+errs.Quote(p.Shares)+" ("+path+":"+strconv.Itoa(at)+
				"); --allow-duplicate-uid gives it to "+name+" too, as usermod -o does, or remove that user from the image", ErrUIDTaken)
		}
	}
	if entry.UID != r.UID || entry.GID != r.GID {
		b, _ := account.WithUserIDs(line, r.UID, r.GID)
		p.Changes.Passwd = replacing(line, b, off)
	}
	group, found, err := groupByID(&c.group, r.GID)
	if err != nil || found || entry.GID == r.GID { // the gid has a group, or none is asked for
		p.Group = group
		return err
	}
	// No group has the gid yet: NAME's own group gets it. That is the
	// group called NAME (useradd's USERGROUPS_ENAB makes one), unless it is
	// another entry's primary group, which must keep its gid.
	line, n, off, _, err = named(&c.group, r.Name)
	if gid, err2 := account.GroupID(line); err == nil && n != 0 && err2 == nil {
		if _, at := entryWith(&c.passwd, true, gid, r.Name); at == 0 {
			b, _ := account.WithGroupID(line, r.GID)
			p.Group, p.Changes.Group = r.Name, replacing(line, b, off)
			return nil
		}
	}
	if err != nil {
		return err
	}
	return addGroup(p, &c.group, r.GID, r.Name, "group"+strconv.FormatUint(uint64(r.GID), 10))
}

// replacing is the change of line old, at off, to line.
func replacing(old, line []byte, off int) *Change {
	return &Change{Line: string(line), Old: string(old), off: off}
}
