// Package launch replaces the process with the command, searching PATH the
// way execvp(3) does.
//
// The search runs after the credential switch, so directory permissions are
// those of the target user. Each PATH candidate is tried with execve itself
// (as execvp does) rather than by a stat beforehand, which leaves no window
// between the check and the exec.
package launch

import (
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
	code, why, err := NotFound, "executable file not found in $PATH", error(syscall.ENOENT)
	if name != "" && strings.IndexByte(name, '/') >= 0 {
		err = syscall.Exec(name, argv, env)
		code, why = exitCode(err), err.Error()
		if interp := missingInterpreter(name, err); interp != "" {
			code, why = NotExecutable, interp
		}
	} else if name != "" {
		path, ok := environ.Get(env, "PATH")
		if !ok {
			path = DefaultPath
		}
		var denied error
		interp := "" // a file found whose interpreter is missing
		for more := true; more; {
			dir := path
			if i := strings.IndexByte(path, ':'); i >= 0 {
				dir, path = path[:i], path[i+1:]
			} else {
				more = false
			}
			file := dir
			if file == "" {
				file = "."
			}
			file = strings.TrimSuffix(file, "/") + "/" + name
			if dir == "" || dir[0] != '/' {
				// An empty or relative PATH entry means the current
				// directory: running a file found there is what os/exec's
				// ErrDot guards against (a planted ./ls in a volume).
				// Refuse rather than skip, so the user learns why the
				// command did not run.
				var st syscall.Stat_t
				if syscall.Stat(file, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&0o111 != 0 {
					code, why, err = NotExecutable, "found as "+errs.Quote(file)+" through the relative PATH entry "+
						errs.Quote(dir)+"; refusing to run a command relative to the current directory (give its path, e.g. ./"+name+")", syscall.EACCES
					break
				}
			} else {
				e := syscall.Exec(file, argv, env)
				switch errno, _ := e.(syscall.Errno); errno {
				case syscall.EACCES:
					// execvp reports EACCES at the end even when it only
					// came from a directory the user cannot search (root's
					// ~/bin in PATH after dropping to nobody), which reads
					// as "found but not runnable" when nothing was found.
					// Count it only for a file that exists.
					var st syscall.Stat_t
					if syscall.Stat(file, &st) == nil {
						denied = e // keep looking; report it if nothing runs
					}
				case syscall.ENOENT:
					// The file may be there with its interpreter missing (a
					// glibc program in a musl image): keep looking, as
					// execvp does, and say so if nothing runs.
					if why := missingInterpreter(file, e); why != "" && interp == "" {
						interp = "found as " + errs.Quote(file) + ", but " + why
					}
				case syscall.ENOTDIR, syscall.ESTALE, syscall.ENODEV, syscall.ETIMEDOUT:
				default:
					code, why, err = exitCode(e), e.Error(), e
					more = false
					continue
				}
			}
			if !more && interp != "" {
				code, why = NotExecutable, interp
			} else if !more && denied != nil {
				code, why, err = NotExecutable, denied.Error(), denied
			}
		}
	}
	return &Error{Code: code, msg: "exec: " + errs.Quote(name) + ": " + why, err: err}
}

// exitCode maps an execve error to the exit status: the file is not there,
// or it is there but cannot be run.
func exitCode(err error) int {
	if errno, _ := err.(syscall.Errno); errno == syscall.ENOENT || errno == syscall.ENOTDIR {
		return NotFound
	}
	return NotExecutable
}
