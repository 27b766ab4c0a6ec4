// Package landlock confines the command's access to the file system with
// Linux's Landlock LSM (the kernel's Documentation/userspace-api/landlock.rst):
// a thread restricts itself, and what it execs and forks inherits the
// restriction, with no root, no policy file and no help from the container
// runtime.
//
// gosu makes one ruleset that handles every file-system access right of the
// kernel's Landlock ABI (up to MaxABI), so that whatever is not granted is
// denied, and grants:
//
//   - beneath each --landlock-write path: every right but making device
//     nodes, which no rule grants;
//   - beneath each --landlock-read path, or beneath / when --landlock-read is
//     not given: executing, reading files and listing directories.
//
// From ABI 6 it also scopes signals and abstract unix sockets to the
// command's own processes. Network rights are not handled: TCP stays as it
// is.
//
// The paths are opened once, when gosu starts, as O_PATH descriptors, from /
// one component at a time without following a symbolic link anywhere, and
// the rules are made from those descriptors: what is renamed or linked into
// place afterwards changes nothing. A supervising parent passes the same
// descriptors, by number, to the fresh gosu that execs the command.
//
// landlock_restrict_self acts on the calling thread alone. Restrict runs on
// the locked thread that then execs (package drop's conditions), after the
// credential switch and with no_new_privs set, which Landlock needs from a
// caller without CAP_SYS_ADMIN; the Go runtime's other threads stay
// unconfined until execve ends them, and run no code of gosu's meanwhile.
package landlock

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/resolve"
)

// MaxABI is the newest Landlock ABI whose rights gosu knows. On a newer
// kernel the rules are made for this one: rights added later are not
// handled, and what they govern stays allowed.
const MaxABI = 7

// The rights of reading, and those a rule on a file that is not a directory
// may carry (the kernel refuses the others there with EINVAL).
const (
	readRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// deviceRights, making character and block device nodes, are handled but
// granted nowhere, not even beneath a write path: Landlock checks a node's
// path, not its device, so a command with CAP_MKNOD (root) that made a node
// for the disk, or for a loop device over a file elsewhere, beneath
// --landlock-write's tree would read and write everything through it.
const deviceRights = unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK

// Rights is every file-system right of Landlock ABI abi.
func Rights(abi int) uint64 {
	if abi < 1 {
		return 0
	}
	r := uint64(unix.LANDLOCK_ACCESS_FS_MAKE_SYM<<1 - 1) // ABI 1: EXECUTE to MAKE_SYM
	if abi >= 2 {
		r |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		r |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		r |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return r
}

// scopes is what ABI abi can scope to the command's own domain: signals and
// connections to abstract unix sockets (ABI 6).
func scopes(abi int) uint64 {
	if abi >= 6 {
		return unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
	}
	return 0
}

// restrictFlags are landlock_restrict_self's flags for ABI abi. From ABI 7
// the kernel can log denials to the audit log: not gosu's own (its PATH
// lookup may fail on purpose), but the command's after the exec, which by
// default are not logged for a program that another one sandboxed.
func restrictFlags(abi int) uintptr {
	if abi >= 7 {
		return unix.LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF | unix.LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
	}
	return 0
}

// Request is what the command line asks for: paths as given.
type Request struct {
	Write, Read []string
	BestEffort  bool // where Landlock is missing, run unconfined with a warning
	// FollowRootLinks follows a symbolic link in a path when only root can
	// have made it (--follow-root-symlinks; package resolve).
	FollowRootLinks bool
}

// AddPaths appends the comma-separated absolute paths of an option's value
// to list.
func AddPaths(list *[]string, v string) error {
	for more := true; more; {
		var p string
		p, v, more = strings.Cut(v, ",")
		if !strings.HasPrefix(p, "/") {
			return errs.Explain("not an absolute path: "+errs.Quote(p), unix.EINVAL)
		}
		*list = append(*list, p)
	}
	return nil
}

// Rules are the resolved rules: what crosses to a supervising parent's
// fresh gosu (ABI, Write, Read) and what --explain shows (Paths).
type Rules struct {
	// ABI is the Landlock ABI the rules are made for; 0 when none are
	// applied (none asked for, or Landlock missing with --landlock-best-effort).
	ABI int
	// Write and Read are O_PATH descriptors, opened when gosu started:
	// beneath each of Write every right but making devices, beneath each of
	// Read the rights of reading. Read holds / when --landlock-read is not
	// given.
	Write, Read []int

	paths []Path // in the order of Write, then Read; none in a fresh gosu
}

// Path is one rule as --explain shows it: the path as given ("/" when gosu
// added it for --landlock-write alone), and the rights granted beneath it
// (none when not applied). Only a directory's rights include read_dir.
type Path struct {
	Name   string
	Access uint64
}

// Paths lists the rules, with the access each grants.
func (r *Rules) Paths() []Path { return r.paths }

// fds lists Write's descriptors, then Read's.
func (r *Rules) fds() []int { return append(r.Write[:len(r.Write):len(r.Write)], r.Read...) }

// Open opens the paths of req and makes the rules for the running kernel.
// A path that is missing, holds a symbolic link, or is the root directory is
// an error, and so is a kernel without Landlock unless req.BestEffort, which
// makes it the returned warning and applies nothing. A trial ruleset is made
// from the rules, so that one the kernel would refuse fails now, before
// anything runs.
func Open(req Request) (r Rules, warning string, err error) {
	given := len(req.Write) + len(req.Read)
	if given == 0 {
		return
	}
	abi, err := ABI()
	if abi, warning, err = decide(abi, err, req.BestEffort); err != nil {
		return
	}
	names := append(req.Write[:len(req.Write):len(req.Write)], req.Read...)
	if len(req.Read) == 0 {
		names = append(names, "/")
	}
	var root unix.Stat_t
	unix.Stat("/", &root)
	for i, name := range names {
		write := i < len(req.Write)
		fd, st, e := openPath(name, req.FollowRootLinks)
		if e == nil && i < given && st.Dev == root.Dev && st.Ino == root.Ino {
			unix.Close(fd)
			e = errs.Explain("the root directory: a rule for it would confine nothing", unix.EINVAL)
		}
		if e != nil {
			opt := "--landlock-read: "
			if write {
				opt = "--landlock-write: "
			}
			err = errs.Wrap(opt+errs.Quote(name), e)
			break
		}
		if write {
			r.Write = append(r.Write, fd)
		} else {
			r.Read = append(r.Read, fd)
		}
		r.paths = append(r.paths, Path{name, access(abi, write, st.Mode&unix.S_IFMT == unix.S_IFDIR)})
	}
	if err == nil && abi > 0 {
		r.ABI = abi
		var rs int
		if rs, err = r.ruleset(); err == nil {
			unix.Close(rs)
			return r, "", nil
		}
	}
	// Landlock missing (best effort), or an error: nothing to hand on.
	r.Close()
	r.ABI, r.Write, r.Read = 0, nil, nil
	if err != nil {
		return Rules{}, "", err
	}
	return r, warning, nil
}

// ABI asks the kernel for its Landlock ABI version. An error means Landlock
// is missing (ENOSYS: not built in, or a seccomp filter that denies it, as
// may EPERM), or disabled (EOPNOTSUPP: not in the lsm= boot parameter).
func ABI() (int, error) {
	v, _, errno := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, errno
	}
	return int(v), nil
}

// decide returns the ABI to make the rules for, given what the kernel
// answered, or why gosu must not run: a security option never silently does
// nothing, so a missing Landlock is an error, or with bestEffort a warning
// (and ABI 0).
func decide(abi int, err error, bestEffort bool) (int, string, error) {
	if err == nil && abi > 0 {
		return min(abi, MaxABI), "", nil
	}
	if err == nil {
		err = unix.EOPNOTSUPP
	}
	why := "Landlock is not available here (landlock_create_ruleset: " + err.Error() + ")"
	if bestEffort {
		return 0, "warning: --landlock-best-effort: " + why + "; COMMAND runs without the file-system confinement of --landlock-write and --landlock-read", nil
	}
	return 0, "", errs.Explain(why+"; refusing to run COMMAND unconfined (--landlock-best-effort would run it with a warning)", err)
}

// access is what a rule grants beneath a path under ABI abi.
func access(abi int, write, dir bool) uint64 {
	a := Rights(abi) &^ deviceRights
	if !write {
		a &= readRights
	}
	if !dir {
		a &= fileRights
	}
	return a
}

// openPath opens path as an O_PATH descriptor (close-on-exec) the way
// --chown and the /PATH user spec open theirs (package resolve): from /,
// following no symbolic link in any component, unless followRoot and root
// made it. It returns what the descriptor is.
func openPath(path string, followRoot bool) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := resolve.Open(path, followRoot)
	if err == nil {
		if err = unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			fd = -1
		}
	}
	return fd, st, err
}

// rulesetAttr is struct landlock_ruleset_attr up to scoped (ABI 6); an older
// kernel accepts its size as long as what it does not know is zero.
type rulesetAttr struct {
	handledFS, handledNet, scoped uint64
}

// pathBeneath is struct landlock_path_beneath_attr, packed: the kernel reads
// its 12 bytes.
type pathBeneath struct {
	allowed uint64
	fd      int32
}

// ruleset makes a ruleset of r and returns its descriptor (close-on-exec,
// as the kernel makes every ruleset).
func (r *Rules) ruleset() (int, error) {
	attr := rulesetAttr{handledFS: Rights(r.ABI), scoped: scopes(r.ABI)}
	rs, _, errno := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return -1, errs.Wrap("landlock_create_ruleset", errno)
	}
	for i, fd := range r.fds() {
		var st unix.Stat_t
		unix.Fstat(fd, &st) // a bad descriptor fails below
		rule := pathBeneath{access(r.ABI, i < len(r.Write), st.Mode&unix.S_IFMT == unix.S_IFDIR), int32(fd)}
		if _, _, errno = unix.RawSyscall6(unix.SYS_LANDLOCK_ADD_RULE, rs, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
			unix.Close(int(rs))
			return -1, errs.Wrap("landlock_add_rule", errno)
		}
	}
	return int(rs), nil
}

// Restrict confines the calling thread to the rules, and closes their
// descriptors, so that none reaches the command. It must run on the thread
// that then calls execve, with no_new_privs set (package drop does both);
// on an error the caller must exit without running anything. With ABI 0 it
// only closes.
func (r *Rules) Restrict() error {
	var err error
	if r.ABI > 0 {
		var rs int
		if rs, err = r.ruleset(); err == nil {
			if _, _, errno := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(rs), restrictFlags(r.ABI), 0); errno != 0 {
				err = errs.Wrap("landlock_restrict_self", errno)
			}
			// Close-on-exec, but closed anyway once the thread is confined.
			unix.Close(rs)
		}
	}
	r.Close()
	return err
}

// Close closes the rules' descriptors.
func (r *Rules) Close() {
	for _, fd := range r.fds() {
		unix.Close(fd)
	}
}

// Inherit lets the rules' descriptors pass, at the same numbers, to the
// fresh gosu a supervising parent starts; the parent closes them once the
// child runs (it closes every descriptor without FD_CLOEXEC). gosu starts
// no other program. A descriptor that cannot be passed fails the child's
// Check.
func (r *Rules) Inherit() {
	for _, fd := range r.fds() {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	}
}

// Check reports whether rules read from a supervising parent's numeric form
// are what Open makes: an ABI gosu knows with at least one read rule, or no
// ABI and no rules, and descriptors above 2 open with O_PATH.
func (r *Rules) Check() bool {
	ok := r.ABI >= 0 && r.ABI <= MaxABI && (r.ABI == 0) == (len(r.Read) == 0) && (r.ABI > 0 || len(r.Write) == 0)
	for _, fd := range r.fds() {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		ok = ok && err == nil && fd > 2 && fl&unix.O_PATH != 0
	}
	return ok
}

// rightNames are the file-system rights by bit, as the kernel's
// LANDLOCK_ACCESS_FS_* names them.
var rightNames = [...]string{"execute", "write_file", "read_file", "read_dir", "remove_dir", "remove_file", "make_char",
	"make_dir", "make_reg", "make_sock", "make_fifo", "make_block", "make_sym", "refer", "truncate", "ioctl_dev"}

// RightNames names the rights in access, in bit order.
func RightNames(access uint64) []string {
	var out []string
	for i, n := range rightNames {
		if access&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Scoped names what the command is confined to its own processes for:
// connecting to abstract unix sockets and sending signals (ABI 6).
func (r *Rules) Scoped() []string {
	if scopes(r.ABI) == 0 {
		return nil
	}
	return []string{"abstract_unix_socket", "signal"}
}

// Unhandled says what ABI abi leaves unrestricted that MaxABI restricts.
func Unhandled(abi int) []string {
	if abi == 0 {
		return []string{"everything"}
	}
	var out []string
	if abi < 3 {
		out = append(out, "truncating files")
	}
	if abi < 5 {
		out = append(out, "ioctl on devices")
	}
	if abi < 6 {
		out = append(out, "signals and abstract unix sockets")
	}
	return out
}
