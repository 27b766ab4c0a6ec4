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

// parse checks the fields of a passwd line (len(f) is passwdFields) or a
// group line (groupFields) and fills f with them, without copying. It
// returns the uid and gid of a passwd line, or the gid of a group line
// first.
func parse(line []byte, f [][]byte) (ids [2]uint32, err error) {
	kind, last, id := "user", 3, "uid"
	if len(f) == groupFields {
		kind, last, id = "group", 2, "gid"
	}
	if n, ok := split(line, f); !ok {
		return ids, fieldsError(n, len(f))
	}
	if len(f[0]) == 0 {
		return ids, errors.New("empty " + kind + " name")
	}
	for i := 2; i <= last; i, id = i+1, "gid" {
		if ids[i-2], err = ParseID(string(f[i])); err != nil {
			return ids, idError(id, f[i])
		}
	}
	return ids, nil
}

// ParseUser parses one passwd line, without its line ending ("\n" or
// "\r\n"): a "\r" given here is part of the last field.
func ParseUser(line []byte) (User, error) {
	var f [passwdFields][]byte
	ids, err := parse(line, f[:])
	if err != nil {
		return User{}, err
	}
	return userOf(&f, ids), nil
}

func userOf(f *[passwdFields][]byte, ids [2]uint32) User {
	return User{Name: string(f[0]), UID: ids[0], GID: ids[1], Home: string(f[5]), Shell: string(f[6])}
}

// UserIDs returns the uid and gid of a well-formed passwd line, copying
// nothing: for a pass over every line of a file.
func UserIDs(line []byte) (uid, gid uint32, err error) {
	var f [passwdFields][]byte
	ids, err := parse(line, f[:])
	return ids[0], ids[1], err
}

// GroupID returns the gid of a well-formed group line, copying nothing.
func GroupID(line []byte) (uint32, error) {
	var f [groupFields][]byte
	ids, err := parse(line, f[:])
	return ids[0], err
}

// WithUserIDs returns a well-formed passwd line with uid and gid in place
// of its own, every other byte as it was (usermod -u -g).
func WithUserIDs(line []byte, uid, gid uint32) ([]byte, error) {
	var f [passwdFields][]byte
	return withIDs(line, f[:], uid, gid)
}

// WithGroupID returns a well-formed group line with gid in place of its
// own, every other byte as it was (groupmod -g).
func WithGroupID(line []byte, gid uint32) ([]byte, error) {
	var f [groupFields][]byte
	return withIDs(line, f[:], gid)
}

// withIDs checks line as a passwd or group line (by len(f)) and puts ids
// in its id fields, which start at the third.
func withIDs(line []byte, f [][]byte, ids ...uint32) ([]byte, error) {
	if _, err := parse(line, f); err != nil {
		return nil, err
	}
	for i, id := range ids {
		f[2+i] = strconv.AppendUint(nil, uint64(id), 10)
	}
	return join(f), nil
}

// join puts fields back together with ':'.
func join(f [][]byte) []byte {
	var b []byte
	for i, field := range f {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, field...)
	}
	return b
}

// hasMember reports whether name is one of the comma-separated members,
// compared exactly.
func hasMember(members []byte, name string) bool {
	for len(members) > 0 {
		i := bytes.IndexByte(members, ',')
		if i < 0 {
			return string(members) == name
		}
		if string(members[:i]) == name {
			return true
		}
		if members = members[i+1:]; len(members) == 0 {
			return name == "" // after a trailing ","
		}
	}
	return false
}

// ParseGroup parses one group line, without its line ending ("\n" or
// "\r\n"): a "\r" given here is part of the member list.
func ParseGroup(line []byte) (Group, error) {
	var f [groupFields][]byte
	ids, err := parse(line, f[:])
	if err != nil {
		return Group{}, err
	}
	var members []string
	for m := f[3]; len(m) > 0; {
		i := bytes.IndexByte(m, ',')
		if i < 0 {
			members = append(members, string(m))
			break
		}
		members = append(members, string(m[:i]))
		if m = m[i+1:]; len(m) == 0 {
			members = append(members, "") // after a trailing ","
		}
	}
	return Group{Name: string(f[0]), GID: ids[0], Members: members}, nil
}

// FirstField is the text before a line's first ':', its name when it is
// well-formed: what a malformed line can still be recognised by.
func FirstField(line []byte) []byte {
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		return line[:i]
	}
	return line
}
