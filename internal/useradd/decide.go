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
	s := a.scan()
	var clash error
	for s.Scan() {
		id, _, err := account.UserIDs(s.Line())
		if err == nil && id == uid {
			u, _ := account.ParseUser(s.Line())
			return &u, nil
		}
		if clash == nil && string(account.FirstField(s.Line())) == name {
			clash = taken("uid ", uid, name, a.path, s.N(), id, err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return nil, clash
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

// freeGroupName returns nil when no group line, well-formed or not, is
// called name, else the conflict for adding it for gid.
func freeGroupName(a *accountFile, name string, gid uint32) error {
	s := a.scan()
	for s.Scan() {
		if string(account.FirstField(s.Line())) == name {
			id, err := account.GroupID(s.Line())
			return taken("gid ", gid, name, a.path, s.N(), id, err)
		}
	}
	return s.Err()
}

// addGroup plans a group line for gid under the first of names that no
// group has.
func addGroup(p *Plan, a *accountFile, gid uint32, names ...string) error {
	var err error
	for _, name := range names {
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
//     added: for a new entry, named r.Group, else the entry's name, and a
//     conflict when that is taken; for an existing entry (node's uid 1000
//     with GROUP_ID=1001), named r.Group or r.Name when given and free, else
//     group<GID>, never the entry's own name, which is usually its primary
//     group's already.
//   - Shadow, when usable, gets a locked line for a new entry, unless it has
//     one for the name: a locked one (from a start stopped before the passwd
//     line) is reused, one with a usable or empty password is a conflict:
//     the new account would get that password.
func decideAdd(c *contents, r *Request, day int64) (Plan, error) {
	if err := validIDs(r.UID, r.GID); err != nil {
		return Plan{}, err
	}
	for i, v := range [...]string{r.Name, r.Group, r.Home, r.Shell} {
		if v != "" && (i < 2 && !validName(v) || i >= 2 && !validPath(v)) {
			return Plan{}, invalid([...]string{"user name ", "group name ", "home directory ", "shell "}[i], v, i >= 2)
		}
	}
	uid, gid := strconv.FormatUint(uint64(r.UID), 10), strconv.FormatUint(uint64(r.GID), 10)
	p := Plan{Name: r.Name, Home: r.Home, Shell: r.Shell, UID: r.UID, GID: r.GID, OldUID: r.UID, OldGID: r.GID, add: r}
	if p.Name == "" {
		p.Name = "user" + uid
	}
	entry, err := userByID(&c.passwd, r.UID, p.Name)
	if err != nil {
		return p, err
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
		return p, err
	case found:
		p.Group = name
	case !p.Found:
		err = addGroup(&p, &c.group, r.GID, cond(r.Group, p.Name))
	case r.Group != "" || r.Name != "":
		err = addGroup(&p, &c.group, r.GID, cond(r.Group, r.Name), "group"+gid)
	default:
		err = addGroup(&p, &c.group, r.GID, "group"+gid)
	}
	if err != nil || p.Found {
		return p, err
	}

	// The passwd password is "x" ("see shadow") only when shadow has the
	// line: with "x" and none, pam_unix's account check fails (su,
	// runuser, cron refuse the user); "*" matches no input.
	pw := ":*:"
	if c.shadow.usable {
		pw = ":x:"
		locked, err := shadowLine(&c.shadow, r.UID, p.Name)
		if err != nil {
			return p, err
		}
		if !locked {
			// Debian 12 useradd's line: locked, aging from login.defs.
			p.Changes.Shadow = &Change{Line: p.Name + ":!:" + strconv.FormatInt(day, 10) + ":0:99999:7:::"}
		}
	}
	p.Changes.Passwd = &Change{Line: p.Name + pw + uid + ":" + gid + "::" + p.Home + ":" + p.Shell}
	return p, nil
}

// shadowLine reports whether shadow has a line for name, locked; a line
// with a usable or empty password is a conflict. The first line for the
// name decides.
func shadowLine(a *accountFile, uid uint32, name string) (bool, error) {
	s := a.scan()
	for s.Scan() {
		if string(account.FirstField(s.Line())) != name {
			continue
		}
		if pw := s.Line()[len(name):]; len(pw) > 1 && (pw[1] == '!' || pw[1] == '*') {
			return true, nil
		}
		return false, errs.Explain("cannot add uid "+strconv.FormatUint(uint64(uid), 10)+" as "+errs.Quote(name)+": "+a.path+":"+strconv.Itoa(s.N())+
			" still has a password for that name, which the new account would get; choose another name", ErrConflict)
	}
	return false, s.Err()
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
func decideRemap(c *contents, r *Remap) (Plan, error) {
	p := Plan{Name: r.Name, UID: r.UID, GID: r.GID, remap: r}
	if err := validIDs(r.UID, r.GID); err != nil {
		return p, err
	}
	name := errs.Quote(r.Name)
	s := c.passwd.scan()
	var entry *account.User
	var line []byte
	var malformed error
	off, at := 0, 0
	for s.Scan() {
		if string(account.FirstField(s.Line())) != r.Name {
			continue
		}
		if at != 0 {
			return p, errs.Explain(c.passwd.path+":"+strconv.Itoa(at)+" and line "+strconv.Itoa(s.N())+" both have the name "+name+
				": remove one, so that every reader agrees which is "+name, ErrConflict)
		}
		at = s.N()
		u, err := account.ParseUser(s.Line())
		if err != nil {
			malformed = err
			continue
		}
		entry, line, off = &u, bytes.Clone(s.Line()), int(s.Offset())
	}
	switch {
	case s.Err() != nil:
		return p, s.Err()
	case malformed != nil:
		return p, errs.Explain("no user "+name+" in "+c.passwd.path+" ("+c.passwd.path+":"+strconv.Itoa(at)+
			" has that name but is malformed: "+malformed.Error()+")", ErrNoUser)
	case entry == nil:
		return p, errs.Explain("no user "+name+" in "+c.passwd.path, ErrNoUser)
	case entry.UID == 0:
		return p, errs.Explain(name+" has uid 0: root's ids are never changed", ErrInvalid)
	case r.UID == 0:
		return p, errs.Explain("uid 0 would make "+name+" root: give the uid and gid COMMAND should run as", ErrInvalid)
	case r.GID == 0:
		return p, errs.Explain("gid 0 would put "+name+"'s files in root's group: give the uid and gid COMMAND should run as", ErrInvalid)
	}
	p.Home, p.Shell, p.OldUID, p.OldGID = entry.Home, entry.Shell, entry.UID, entry.GID

	// Another entry with the target uid.
	for s = c.passwd.scan(); s.Scan() && entry.UID != r.UID; {
		uid, _, err := account.UserIDs(s.Line())
		if err != nil || uid != r.UID || string(account.FirstField(s.Line())) == r.Name {
			continue
		}
		if !r.AllowDuplicateUID {
			return p, errs.Explain("uid "+strconv.FormatUint(uint64(uid), 10)+" belongs to "+
				errs.Quote(string(account.FirstField(s.Line())))+" ("+c.passwd.path+":"+strconv.Itoa(s.N())+")", ErrUIDTaken)
		}
		p.Shares = string(account.FirstField(s.Line()))
		break
	}

	if entry.UID != r.UID || entry.GID != r.GID {
		b, _ := account.WithUserIDs(line, r.UID, r.GID)
		p.Changes.Passwd = &Change{Line: string(b), Old: string(line), off: off}
	}
	group, found, err := groupByID(&c.group, r.GID)
	switch {
	case err != nil:
		return p, err
	case found || entry.GID == r.GID: // the gid has a group, or none is asked for
		p.Group = group
		return p, nil
	}
	// No group has the gid yet: NAME's own group gets it. That is the
	// group called NAME (useradd's USERGROUPS_ENAB makes one), unless it is
	// another entry's primary group, which must keep its gid.
	for s = c.group.scan(); s.Scan(); {
		if string(account.FirstField(s.Line())) != r.Name {
			continue
		}
		if gid, err := account.GroupID(s.Line()); err == nil && !primaryOfOther(&c.passwd, gid, r.Name) {
			b, _ := account.WithGroupID(s.Line(), r.GID)
			p.Group, p.Changes.Group = r.Name, &Change{Line: string(b), Old: string(s.Line()), off: int(s.Offset())}
			return p, nil
		}
		break
	}
	if s.Err() != nil {
		return p, s.Err()
	}
	return p, addGroup(&p, &c.group, r.GID, r.Name, "group"+strconv.FormatUint(uint64(r.GID), 10))
}

// primaryOfOther reports whether an entry not called name has gid as its
// primary gid.
func primaryOfOther(a *accountFile, gid uint32, name string) bool {
	for s := a.scan(); s.Scan(); {
		if _, g, err := account.UserIDs(s.Line()); err == nil && g == gid && string(account.FirstField(s.Line())) != name {
			return true
		}
	}
	return false
}
