package useradd

import (
	"bytes"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
)

// maxFile bounds what is read of an account file: it is held whole, to be
// copied, and a 200,000-user passwd is about 10 MB.
const maxFile = 64 << 20

// dbFile is an account file as read: its content and what fstat said.
type dbFile struct {
	data   []byte
	exists bool
	st     unix.Stat_t
}

// readDB reads path whole. A missing file is empty and !exists; one that
// exists but cannot be read is an error, never empty: reading it as empty
// would add a uid it already has, or a name someone else has.
func readDB(path string) (dbFile, error) {
	fd, err := openRegular(path, unix.O_RDONLY, 0)
	if err == unix.ENOENT {
		return dbFile{}, nil
	}
	if err != nil {
		return dbFile{}, fail("cannot read "+path, nil, err)
	}
	defer unix.Close(fd)
	db := dbFile{exists: true}
	if err := unix.Fstat(fd, &db.st); err != nil {
		return dbFile{}, fail("cannot read "+path, nil, err)
	}
	if db.data, err = readAll(path, fd, db.st.Size); err != nil {
		return dbFile{}, err
	}
	return db, nil
}

// openRegular opens path if it is a regular file, or a symbolic link to
// one. The type is checked before opening (opening a device runs its
// driver) and again on the descriptor (the path may have changed);
// O_NONBLOCK makes a FIFO fail at once instead of waiting for a writer.
func openRegular(path string, flags, mode int) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return -1, errNotRegular
	}
	fd, err := openFile(path, flags|unix.O_NONBLOCK|unix.O_NOCTTY, mode)
	if err != nil {
		return -1, err
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, errNotRegular
	}
	return fd, nil
}

var errNotRegular = errors.New("not a regular file")

func openFile(path string, flags, mode int) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, uint32(mode))
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readAll reads fd to its end, size being what fstat said, up to maxFile.
func readAll(path string, fd int, size int64) ([]byte, error) {
	tooLarge := fail("cannot read "+path+": larger than "+strconv.Itoa(maxFile>>20)+" MiB", nil, nil)
	if size > maxFile {
		return nil, tooLarge
	}
	buf := make([]byte, 0, size+512) // room to see the end without growing
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxFile {
				return nil, tooLarge
			}
			buf = append(buf, make([]byte, 4096)...)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, fail("cannot read "+path, nil, err)
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// eachLine calls fn with every line of data that can be an entry, and its
// number from 1, until fn returns true. Lines end as package account reads
// them ("\n", or "\r\n"), blank lines and "#" comments are skipped the
// same way, and a line too long for it is an error here too: what gosu
// cannot read must not be judged absent.
func eachLine(path string, data []byte, fn func(line []byte, n int) bool) error {
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > account.MaxLine {
			return &account.LineError{Path: path, Line: n, Err: account.ErrLineTooLong}
		}
		if len(bytes.TrimLeft(line, " \t")) == 0 || line[0] == '#' {
			continue
		}
		if fn(line, n) {
			return nil
		}
	}
	return nil
}

// field returns the i-th ':'-separated field of line (from 0), or nil.
func field(line []byte, i int) []byte {
	for ; i > 0; i-- {
		j := bytes.IndexByte(line, ':')
		if j < 0 {
			return nil
		}
		line = line[j+1:]
	}
	if j := bytes.IndexByte(line, ':'); j >= 0 {
		return line[:j]
	}
	return line
}

// lookup finds, in a passwd or group file (both have the name first and
// the id third), the first line that check finds well-formed with id and,
// when there is none, the first line of any form called name.
func lookup(path string, data []byte, id uint32, name string, check func([]byte) error) (byID []byte, byName *clash, err error) {
	err = eachLine(path, data, func(line []byte, n int) bool {
		lineID, idErr := account.ParseID(field(line, 2))
		if idErr == nil && lineID == id && check(line) == nil {
			byID = line
			return true
		}
		if byName == nil && string(field(line, 0)) == name {
			byName = &clash{path: path, n: n, id: lineID, why: check(line)}
		}
		return false
	})
	if byID != nil {
		byName = nil
	}
	return byID, byName, err
}

// findUser returns the entry gosu would find for uid, or nil; with none, a
// line called name (well-formed or not) is an error.
func findUser(path string, data []byte, uid uint32, name string) (*account.User, error) {
	line, c, err := lookup(path, data, uid, name, func(l []byte) error {
		_, err := account.ParseUser(l)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case c != nil:
		return nil, taken("uid", uid, name, c)
	case line == nil:
		return nil, nil
	}
	u, _ := account.ParseUser(line)
	return &u, nil
}

// findGroup is findUser for groups.
func findGroup(path string, data []byte, gid uint32, name string) (*account.Group, error) {
	line, c, err := lookup(path, data, gid, name, func(l []byte) error {
		_, err := account.ParseGroup(l)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case c != nil:
		return nil, taken("gid", gid, name, c)
	case line == nil:
		return nil, nil
	}
	g, _ := account.ParseGroup(line)
	return &g, nil
}

// findShadow reports whether shadow (or gshadow) has a line for name. One
// with a locked password ("!..." or "*...") is taken as it is: it may be
// this package's own, from a start that was stopped before the passwd
// line. One with a usable or empty password is an error.
func findShadow(path string, data []byte, name string) (bool, error) {
	var c *clash
	has := false
	err := eachLine(path, data, func(line []byte, n int) bool {
		if string(field(line, 0)) != name {
			return false
		}
		if pw := field(line, 1); len(pw) == 0 || pw[0] != '!' && pw[0] != '*' {
			c = &clash{path: path, n: n}
		}
		has = true
		return true
	})
	switch {
	case err != nil:
		return false, err
	case c != nil:
		return false, passwordLeft(name, c)
	}
	return has, nil
}

// untorn returns data without its last line when that line has no "\n"
// and is a proper prefix of one of lines: what an append killed mid-write
// leaves (a write(2) that crosses a page boundary can stop between pages on
// SIGKILL). Such a line is completed, not judged: a prefix of a passwd line
// can even be well-formed, with its home or shell cut short.
func untorn(data []byte, lines ...string) []byte {
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return data
	}
	i := bytes.LastIndexByte(data, '\n') + 1
	tail := data[i:]
	for _, l := range lines {
		if len(tail) < len(l) && l[:len(tail)] == string(tail) {
			return data[:i]
		}
	}
	return data
}
