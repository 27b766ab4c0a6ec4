// Package launch replaces the process with the command, searching PATH the
// way execvp(3) does.
//
// The search runs after the credential switch, so directory permissions are
// those of the target user. Each PATH candidate is tried with execve itself
// (as execvp does) rather than by a stat beforehand, which leaves no window
// between the check and the exec.
package launch

import (
	"errors"
	"strings"
	"syscall"

	"gosu/internal/environ"
	"gosu/internal/errs"
)

// DefaultPath is searched when PATH is not set, as execvp(3) and docker do.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exit codes of env(1), chroot(1), setpriv(8) and docker.
const (
	NotFound      = 127
	NotExecutable = 126
)

// Error is a failed exec and the exit status it calls for.
type Error struct {
	Code int
	msg  string
	err  error // the execve error, when there was one
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// Exec replaces the process with argv[0], passed argv (argv[0] as given) and
// env. PATH is taken from env. It returns only on failure.
func Exec(argv, env []string) *Error {
	name := argv[0]
	fail := func(code int, why string, err error) *Error {
		return &Error{Code: code, msg: "exec: " + errs.Quote(name) + ": " + why, err: err}
	}
	if name == "" {
		return fail(NotFound, "executable file not found in $PATH", syscall.ENOENT)
	}
	if strings.Contains(name, "/") {
		err := syscall.Exec(name, argv, env)
		return fail(code(err), err.Error(), err)
	}
	path, ok := environ.Get(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	var denied error
	for dir := range strings.SplitSeq(path, ":") {
		if !strings.HasPrefix(dir, "/") {
			// An empty or relative PATH entry means the current directory:
			// running a file found there is what os/exec's ErrDot guards
			// against (a planted ./ls in a volume). Refuse rather than skip,
			// so the user learns why the command did not run.
			if isExecutable(join(dir, name)) {
				return fail(NotExecutable, "found as "+join(dir, name)+" through the relative PATH entry "+
					errs.Quote(dir)+"; refusing to run a command relative to the current directory (give its path, e.g. ./"+name+")", syscall.EACCES)
			}
			continue
		}
		err := syscall.Exec(join(dir, name), argv, env)
		switch {
		case errors.Is(err, syscall.EACCES):
			// execvp reports EACCES at the end even when it only came from a
			// directory the user cannot search (root's ~/bin in PATH after
			// dropping to nobody), which reads as "found but not runnable"
			// when nothing was found. Count it only for a file that exists.
			if exists(join(dir, name)) {
				denied = err // keep looking; report it if nothing runs
			}
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ESTALE),
			errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ETIMEDOUT):
		default:
			return fail(code(err), err.Error(), err)
		}
	}
	if denied != nil {
		return fail(NotExecutable, denied.Error(), denied)
	}
	return fail(NotFound, "executable file not found in $PATH", syscall.ENOENT)
}

// code maps an execve error to the exit status: the file is not there, or
// it is there but cannot be run.
func code(err error) int {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
		return NotFound
	}
	return NotExecutable
}

func join(dir, name string) string {
	if dir == "" {
		dir = "."
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

func exists(path string) bool {
	var st syscall.Stat_t
	return syscall.Stat(path, &st) == nil
}

func isExecutable(path string) bool {
	var st syscall.Stat_t
	return syscall.Stat(path, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&0o111 != 0
}
