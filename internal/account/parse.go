package account

import (
	"bytes"
	"errors"
	"strconv"

	"gosu/internal/errs"
)

// User is a well-formed passwd(5) entry.
type User struct {
	Name  string
	UID   uint32
	GID   uint32
	Home  string
	Shell string
}

// Group is a well-formed group(5) entry.
type Group struct {
	Name    string
	GID     uint32
	Members []string
}

const (
	passwdFields = 7
	groupFields  = 4
)

// skip reports whether a line is a comment or blank, which are allowed and
// never entries.
func skip(line []byte) bool {
	return len(bytes.TrimLeft(line, " \t")) == 0 || line[0] == '#'
}

// split cuts line at ':' into exactly len(f) fields, reporting how many the
// line really has when that is not len(f). The last field is never searched
// beyond the first extra ':' so that a long member list costs one scan.
func split(line []byte, f [][]byte) (int, bool) {
	for i := range len(f) - 1 {
		j := bytes.IndexByte(line, ':')
		if j < 0 {
			return i + 1, false
		}
		f[i], line = line[:j], line[j+1:]
	}
	if n := bytes.Count(line, []byte{':'}); n > 0 {
		return len(f) + n, false
	}
	f[len(f)-1] = line
	return len(f), true
}

// fieldsError explains a line that does not have the number of fields its
// file needs.
func fieldsError(have, want int) error {
	unit := " fields"
	if have == 1 {
		unit = " field"
	}
	return errors.New(strconv.Itoa(have) + unit + " instead of " + strconv.Itoa(want))
}

// idError explains an id field that is not an id.
func idError(what string, field []byte) error {
	return errors.New(what + " " + errs.Quote(string(field)) + " is not a decimal number in 0-4294967294")
}

// passwdLine holds the fields of a passwd line without copying them.
type passwdLine struct {
	name, home, shell []byte
	uid, gid          uint32
}

func parsePasswd(line []byte) (passwdLine, error) {
	var f [passwdFields][]byte
	if n, ok := split(line, f[:]); !ok {
		return passwdLine{}, fieldsError(n, passwdFields)
	}
	if len(f[0]) == 0 {
		return passwdLine{}, errors.New("empty user name")
	}
	uid, err := ParseID(f[2])
	if err != nil {
		return passwdLine{}, idError("uid", f[2])
	}
	gid, err := ParseID(f[3])
	if err != nil {
		return passwdLine{}, idError("gid", f[3])
	}
	return passwdLine{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]}, nil
}

func (p passwdLine) user() User {
	return User{Name: string(p.name), UID: p.uid, GID: p.gid, Home: string(p.home), Shell: string(p.shell)}
}

// ParseUser parses one passwd line, without its line ending ("\n" or
// "\r\n"): a "\r" given here is part of the last field.
func ParseUser(line []byte) (User, error) {
	p, err := parsePasswd(line)
	if err != nil {
		return User{}, err
	}
	return p.user(), nil
}

// groupLine holds the fields of a group line without copying them.
type groupLine struct {
	name, members []byte
	gid           uint32
}

func parseGroup(line []byte) (groupLine, error) {
	var f [groupFields][]byte
	if n, ok := split(line, f[:]); !ok {
		return groupLine{}, fieldsError(n, groupFields)
	}
	if len(f[0]) == 0 {
		return groupLine{}, errors.New("empty group name")
	}
	gid, err := ParseID(f[2])
	if err != nil {
		return groupLine{}, idError("gid", f[2])
	}
	return groupLine{name: f[0], gid: gid, members: f[3]}, nil
}

// hasMember reports whether name is one of the comma-separated members,
// compared exactly.
func (g groupLine) hasMember(name string) bool {
	if len(g.members) == 0 {
		return false
	}
	for m := range bytes.SplitSeq(g.members, []byte{','}) {
		if string(m) == name {
			return true
		}
	}
	return false
}

// ParseGroup parses one group line, without its line ending ("\n" or
// "\r\n"): a "\r" given here is part of the member list.
func ParseGroup(line []byte) (Group, error) {
	g, err := parseGroup(line)
	if err != nil {
		return Group{}, err
	}
	var members []string
	if len(g.members) > 0 {
		for m := range bytes.SplitSeq(g.members, []byte{','}) {
			members = append(members, string(m))
		}
	}
	return Group{Name: string(g.name), GID: g.gid, Members: members}, nil
}

// firstField is the text before the first ':', which is what a malformed line
// can still be recognised by.
func firstField(line []byte) []byte {
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		return line[:i]
	}
	return line
}
