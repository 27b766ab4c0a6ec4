package useradd

import (
	"errors"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

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

// failure is one line for the user; errors.Is finds its kind (one of the
// Err variables) and the system error behind it.
type failure struct {
	msg  string
	errs []error
}

func (e *failure) Error() string   { return e.msg }
func (e *failure) Unwrap() []error { return e.errs }

// fail builds a failure: msg, then ": " and the cause when there is one.
func fail(msg string, kind, cause error) error {
	e := &failure{msg: msg}
	if kind != nil {
		e.errs = append(e.errs, kind)
	}
	if cause != nil {
		e.msg += ": " + cause.Error()
		e.errs = append(e.errs, cause)
	}
	return e
}

// errno is the system error behind err, or 0. Type switches, not
// errors.Is/As: those bring internal/reflectlite into the binary.
func errno(err error) unix.Errno {
	switch e := err.(type) {
	case unix.Errno:
		return e
	case *pathError:
		return errno(e.err)
	}
	return 0
}

// denied reports an error that means "not allowed to write here".
func denied(err error) bool {
	e := errno(err)
	return e == unix.EACCES || e == unix.EPERM || e == unix.EROFS
}

// notWritable words err about writing path, or "" when err is not about
// permission.
func notWritable(path string, err error) string {
	switch {
	case errno(err) == unix.EROFS:
		return path + " is on a read-only file system"
	case !denied(err):
		return ""
	case unix.Geteuid() != 0:
		return "not running as root and " + path + " is not writable"
	}
	return path + " is not writable (" + err.Error() + ")"
}

// cannotAdd explains why what (e.g. "uid 1000") could not be added to path.
// A failure (a conflict found under the lock, a lock timeout) is already
// explained and passes through.
func cannotAdd(what, path string, err error) error {
	if _, ok := err.(*failure); ok {
		return err
	}
	msg := "cannot add " + what + " to " + path
	if why := notWritable(path, err); why != "" {
		return &failure{msg: msg + ": " + why, errs: []error{ErrNotWritable, err}}
	}
	return fail(msg, nil, err)
}

// clash is the first line of a file that has a name being added.
type clash struct {
	path string
	n    int    // line number, from 1
	id   uint32 // the line's id, when well-formed
	why  error  // why the line is malformed, or nil
}

func (c *clash) where() string { return c.path + ":" + strconv.Itoa(c.n) }

// taken refuses to add id (what is "uid" or "gid") under a name that the
// line c has; that line is never touched. For a group, reusing it would
// give the user another gid than the one asked for, renaming it would
// change someone else's group.
func taken(what string, id uint32, name string, c *clash) error {
	msg := "cannot add " + what + " " + utoa(id) + " as "
	advice := "run as"
	if what == "gid" {
		msg += "group "
		advice = "use"
	}
	msg += strconv.Quote(name) + ": "
	if c.why != nil {
		msg += c.where() + " has that name but is malformed (" + c.why.Error() + "); fix or remove that line, or choose another name"
	} else {
		msg += "that name belongs to " + what + " " + utoa(c.id) + " (" + c.where() + "); choose another name, or " + advice + " " + what + " " + utoa(c.id)
	}
	return &failure{msg: msg, errs: []error{ErrConflict}}
}

// passwordLeft refuses to revive a shadow line that still holds a usable
// (or empty) password for a name passwd no longer has: the new account
// would log in with the old account's password.
func passwordLeft(name string, c *clash) error {
	return fail("cannot add "+strconv.Quote(name)+": "+c.where()+" still has a password for that name, which the new account would get; remove that line, or choose another name", ErrConflict, nil)
}

func lockTimeout(path string, wait time.Duration) error {
	return fail("cannot lock "+path+": another process (useradd, passwd, vipw, gosu) has held it for "+
		strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)+"s", ErrLocked, nil)
}

// homeError explains why the home directory could not be made.
func homeError(home string, uid uint32, err error) error {
	msg := "cannot create home directory " + home + " for uid " + utoa(uid)
	pe, ok := err.(*pathError)
	switch {
	case !ok:
		return fail(msg, nil, err)
	case notWritable(pe.path, pe.err) != "":
		return &failure{msg: msg + ": " + notWritable(pe.path, pe.err), errs: []error{ErrNotWritable, pe.err}}
	case pe.err == unix.ENOTDIR:
		return &failure{msg: msg + ": " + pe.path + " is not a directory", errs: []error{pe.err}}
	}
	return fail(msg+": "+pe.path, nil, pe.err)
}

// pathError is a system error and the path it is about, without the
// operation names of fs.PathError, which mean nothing to the user here.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }
