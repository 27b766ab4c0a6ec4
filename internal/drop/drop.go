// Package drop switches the calling thread to a target identity, proves the
// switch, and leaves the thread ready for execve.
//
// Credentials belong to a thread in the kernel, and execve keeps only the
// thread that calls it, with that thread's credentials. So the switch is made
// with raw system calls on the locked main thread alone (setgroups,
// setresgid, setresuid, capset, prctl), and read back on that same thread
// (getgroups, getresgid, getresuid, capget, prctl). The other threads of the
// Go runtime keep root's credentials until execve ends them. That is safe
// only under these conditions, which every caller must keep:
//
//   - Switch runs on the thread that will call execve (gosu locks its main
//     goroutine to the main thread before main runs);
//   - after Switch returns, the process does nothing but confine the thread
//     with Landlock (package landlock: rules from descriptors opened at start,
//     then landlock_restrict_self, which also acts on the calling thread
//     alone), the PATH lookup and execve of the command (package launch), on
//     that same thread;
//   - on any failure after Switch has started, the process exits at once,
//     without running anything else.
//
// A process that goes on running (a supervising parent) must never switch:
// it starts a fresh gosu that switches and execs. Of this package it uses
// only ParentDeathSignal, which changes no credential.
//
// Going through package syscall instead would stop the world and signal
// every runtime thread for each of the three calls (a median 0.19 ms, with a
// multi-millisecond tail on two CPUs), to change threads that execve is about
// to discard anyway.
package drop

import (
	"errors"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
	"gosu/internal/errs"
)

// Target is the identity to switch to and what else the process keeps or
// loses on the way.
type Target struct {
	UID    uint32
	GID    uint32
	Groups []uint32

	// KeepCaps are capabilities a non-root target keeps across the switch and
	// the exec, as ambient capabilities (a non-root server binding port 80).
	KeepCaps uint64
	// LimitBounding drops every capability but KeepCaps from the bounding
	// set, so that no later exec (of a setuid or file-capability binary) can
	// gain them.
	LimitBounding bool
	// NoNewPrivs sets no_new_privs: no later exec gains privileges.
	NoNewPrivs bool
	// ParentDeathSignal, when not 0, is sent to the program when the thread
	// that started gosu exits. Parent is that process's PID as seen when
	// gosu started, to tell whether it exited before the signal was set.
	ParentDeathSignal syscall.Signal
	Parent            int
}

// ngroupsMax is the kernel's NGROUPS_MAX.
const ngroupsMax = 65536

// RefuseSetuid returns an error when the process was started with more
// privileges than its caller had: real and effective ids that differ (a
// setuid or setgid install), or an exec the kernel ran in secure mode
// (AT_SECURE in the auxiliary vector: file capabilities that raised the
// permitted or effective set). It reads what the kernel says, not the file
// mode of /proc/self/exe, so it also works where /proc is not mounted. A
// caller with only ambient capabilities, or root, leaves AT_SECURE clear.
func RefuseSetuid(prog string) error {
	bit, ids, r, e := "", "", 0, 0
	if r, e = unix.Getuid(), unix.Geteuid(); r != e {
		bit, ids = "setuid", "uid"
	} else if r, e = unix.Getgid(), unix.Getegid(); r != e {
		bit, ids = "setgid", "gid"
	}
	var why string
	switch {
	case bit != "":
		why = "the '" + bit + "' bit set (real " + ids + " " + utoa(uint64(r), 10) + ", effective " + ids + " " + utoa(uint64(e), 10) + ")"
	case secureExec():
		why = "file capabilities (the kernel started it in secure mode, AT_SECURE)"
	default:
		return nil
	}
	return errors.New(prog + " appears to be installed with " + why + ", which is an extremely insecure and completely unsupported configuration! (what you want instead is likely 'sudo' or 'su')")
}

// secureExec reports whether the auxiliary vector has AT_SECURE set. An
// unreadable vector counts as secure: nothing then proves the opposite.
func secureExec() bool {
	const atSecure = 23 // AT_SECURE, <linux/auxvec.h>
	auxv, err := unix.Auxv()
	if err != nil {
		return true
	}
	for _, kv := range auxv {
		if kv[0] == atSecure {
			return kv[1] != 0
		}
	}
	return false
}

// Switch makes the calling thread run as t, verifies it, and then sets what
// must be set last. Only the ids that differ are set: when the thread already
// is exactly t, no set*id call is made, so a non-root caller (or root in a
// user namespace where setgroups is denied) can ask for its own identity. A
// non-root target ends with exactly KeepCaps as its effective, permitted,
// inheritable and ambient sets (empty by default).
//
// Every step acts on the calling thread only, which must be the locked
// thread that then calls execve (see the package comment). On an error the
// caller must exit without running anything.
func Switch(t Target) error {
	c, err := Current()
	if err != nil {
		return errs.Wrap("reading credentials", err)
	}
	// Dropping from the bounding set needs CAP_SETPCAP, which a non-root uid
	// no longer has: first.
	if t.LimitBounding {
		if err := caps.LimitBounding(t.KeepCaps); err != nil {
			return errs.Wrap("limiting the bounding set", capErr(err, "CAP_SETPCAP"))
		}
	}
	if t.UID != 0 && t.KeepCaps != 0 {
		// Without SECBIT_KEEP_CAPS, setresuid from 0 empties the permitted
		// set, and nothing could be kept. execve clears the bit again.
		if err := caps.KeepOnSetuid(); err != nil {
			return errs.Wrap("keeping capabilities", err)
		}
	}
	if err := c.change(t); err != nil {
		return err
	}
	if t.UID != 0 {
		// setresuid from root to non-root empties the permitted and effective
		// sets (unless kept above), but not the inheritable one, which a later
		// exec of a file with inheritable file capabilities would turn back
		// into privileges (CVE-2022-24769). Setting all three to KeepCaps
		// also empties the ambient set, which must stay a subset of them.
		kept := t.KeepCaps
		if err := caps.Set(caps.Sets{Effective: kept, Permitted: kept, Inheritable: kept}); err != nil {
			return errs.Wrap("setting capabilities", capErr(err, "the capabilities to keep"))
		}
		// Ambient capabilities are what survives execve for a non-root
		// program without file capabilities.
		if err := caps.RaiseAmbient(kept); err != nil {
			return errs.Wrap("raising ambient capabilities", err)
		}
	}
	if t.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return errs.Wrap("setting no_new_privs", err)
		}
	}
	if err := verify(t); err != nil {
		return err
	}
	// The kernel clears the parent-death signal on every credential change,
	// so it is set after the switch.
	return ParentDeathSignal(t.ParentDeathSignal, t.Parent)
}

// ParentDeathSignal has sig (when not 0) sent to this process when the thread
// that started it exits, and fails if the parent, ppid when gosu looked, is
// already gone: it would never send it.
func ParentDeathSignal(sig syscall.Signal, ppid int) error {
	if sig == 0 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
		return errs.Wrap("setting the parent-death signal", err)
	}
	if unix.Getppid() != ppid {
		return errors.New("the parent process exited before the parent-death signal was set")
	}
	return nil
}

// capErr explains a capability operation refused for lack of a capability.
//
//go:noinline
func capErr(err error, need string) error {
	if errno, _ := err.(syscall.Errno); errno == syscall.EPERM {
		return errs.Explain("operation not permitted (needs "+need+" in the permitted set)", err)
	}
	return err
}

// IDs is an identity as the kernel reports it for the calling thread.
type IDs struct {
	UID, GID [3]uint32 // real, effective, saved
	Groups   []uint32
}

// Current reads the calling thread's ids with raw system calls.
func Current() (IDs, error) {
	var c IDs
	getres(sysGetresuid, &c.UID)
	getres(sysGetresgid, &c.GID)
	n, _, errno := unix.RawSyscall(sysGetgroups, 0, 0, 0)
	if errno != 0 {
		return c, errno
	}
	if n > 0 {
		c.Groups = make([]uint32, n)
		m, _, errno := unix.RawSyscall(sysGetgroups, n, uintptr(unsafe.Pointer(&c.Groups[0])), 0)
		if errno != 0 {
			return c, errno
		}
		c.Groups = c.Groups[:m]
	}
	return c, nil
}

// getres fills ids from getresuid or getresgid, which cannot fail with valid
// pointers.
func getres(trap uintptr, ids *[3]uint32) {
	unix.RawSyscallNoError(trap, uintptr(unsafe.Pointer(&ids[0])), uintptr(unsafe.Pointer(&ids[1])), uintptr(unsafe.Pointer(&ids[2])))
}

// Is reports whether the ids are exactly t's uid, gid and groups.
func (c IDs) Is(t Target) bool {
	groups, gid, uid := c.diff(t)
	return !groups && !gid && !uid
}

// diff reports which of the groups, the gids and the uids differ from t's.
//
//go:noinline
func (c IDs) diff(t Target) (groups, gid, uid bool) {
	return !sameSet(c.Groups, t.Groups), c.GID != [3]uint32{t.GID, t.GID, t.GID}, c.UID != [3]uint32{t.UID, t.UID, t.UID}
}

// sameSet compares group lists as sets: the kernel sorts the list it is
// given, and a repeated gid grants nothing more. Not inlined: its maps
// would be copied into each of its callers.
//
//go:noinline
func sameSet(a, b []uint32) bool {
	inA := make(map[uint32]bool, len(a))
	for _, g := range a {
		inA[g] = true
	}
	inB := make(map[uint32]bool, len(b))
	for _, g := range b {
		if !inA[g] {
			return false
		}
		inB[g] = true
	}
	return len(inA) == len(inB)
}

// change makes the calling thread's ids t, calling only what must change:
// in a user namespace where setgroups is denied, asking for the current
// groups must still work.
func (c IDs) change(t Target) error {
	groups, gid, uid := c.diff(t)
	if groups {
		var p unsafe.Pointer
		if len(t.Groups) > 0 {
			p = unsafe.Pointer(&t.Groups[0])
		}
		if _, _, errno := unix.RawSyscall(sysSetgroups, uintptr(len(t.Groups)), uintptr(p), 0); errno != 0 {
			return explain("setgroups", errno, t)
		}
	}
	if gid {
		if _, _, errno := unix.RawSyscall(sysSetresgid, uintptr(t.GID), uintptr(t.GID), uintptr(t.GID)); errno != 0 {
			return explain("setgid", errno, t)
		}
	}
	if uid {
		if _, _, errno := unix.RawSyscall(sysSetresuid, uintptr(t.UID), uintptr(t.UID), uintptr(t.UID)); errno != 0 {
			return explain("setuid", errno, t)
		}
	}
	return nil
}

// Preflight returns, without changing anything, the error the switch to t
// would fail with for lack of privilege, so that a supervising parent can
// say why before it starts a child that cannot switch. It asks the same
// questions the kernel will, in the same order.
func Preflight(t Target) error {
	c, err := Current()
	if err != nil {
		return errs.Wrap("reading credentials", err)
	}
	s, err := caps.Get()
	if err != nil {
		return errs.Wrap("reading capabilities", err)
	}
	const setgid, setuid = 1 << unix.CAP_SETGID, 1 << unix.CAP_SETUID
	groups, gid, uid := c.diff(t)
	switch {
	case groups && s.Effective&setgid == 0:
		return explain("setgroups", syscall.EPERM, t)
	case gid && s.Effective&setgid == 0:
		return explain("setgid", syscall.EPERM, t)
	case uid && s.Effective&setuid == 0:
		return explain("setuid", syscall.EPERM, t)
	}
	return nil
}

// explain turns a failed set*id call into a message that says why, instead of
// a bare "operation not permitted".
func explain(call string, err error, t Target) error {
	var why string
	errno, _ := err.(syscall.Errno)
	switch {
	case errno == syscall.EPERM && unix.Geteuid() != 0:
		why = "not running as root (uid " + utoa(uint64(unix.Geteuid()), 10) + "): only root can switch to another identity; without root, gosu can only run a command as its own current identity"
	case errno == syscall.EPERM && call == "setgroups" && setgroupsDenied():
		why = "setgroups is denied in this user namespace (/proc/self/setgroups is \"deny\"), so the supplementary groups cannot be changed"
	case errno == syscall.EPERM && call == "setuid":
		why = "the process lacks CAP_SETUID (a container started without it?)"
	case errno == syscall.EPERM:
		why = "the process lacks CAP_SETGID (a container started without it?)"
	case errno == syscall.EINVAL && call == "setuid":
		why = "uid " + utoa(uint64(t.UID), 10) + " is not mapped in this user namespace"
	case errno == syscall.EINVAL && call == "setgid":
		why = "gid " + utoa(uint64(t.GID), 10) + " is not mapped in this user namespace"
	case errno == syscall.EINVAL && len(t.Groups) > ngroupsMax:
		why = utoa(uint64(len(t.Groups)), 10) + " supplementary groups are more than the kernel's limit of " + utoa(ngroupsMax, 10)
	case errno == syscall.EINVAL:
		why = "a supplementary group is not mapped in this user namespace"
	default:
		why = err.Error()
	}
	return errs.Wrap(call, errs.Explain(why, err))
}

// setgroupsDenied reads /proc/self/setgroups with plain system calls:
// os.ReadFile would link os.File.Stat, and with it time's formatting and
// time zone code, about 68 KB of the size budget (docs/design.md).
func setgroupsDenied() bool {
	fd, err := unix.Open("/proc/self/setgroups", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	var b [8]byte
	n, _ := unix.Read(fd, b[:])
	unix.Close(fd)
	return string(b[:max(n, 0)]) == "deny\n"
}

// verify reads the credentials back and refuses to go on unless they are
// exactly t, and, for a non-root t, unless root is out of reach.
func verify(t Target) error {
	c, err := Current()
	if err != nil {
		return errs.Wrap("reading back credentials", err)
	}
	var why string
	k := t.KeepCaps
	groups, gid, uid := c.diff(t)
	switch {
	case uid:
		why = "real/effective/saved uid are " + triple(c.UID) + ", want " + utoa(uint64(t.UID), 10)
	case gid:
		why = "real/effective/saved gid are " + triple(c.GID) + ", want " + utoa(uint64(t.GID), 10)
	case groups:
		why = "supplementary groups are " + list(c.Groups) + ", want " + list(t.Groups)
	}
	if why == "" && t.LimitBounding {
		if b, err := caps.Bounding(); err != nil || b&^k != 0 {
			why = "bounding set " + utoa(b, 16) + " is not limited to " + utoa(k, 16)
		}
	}
	if why == "" && t.NoNewPrivs {
		if on, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err != nil || on != 1 {
			why = "no_new_privs is not set"
		}
	}
	if why == "" && t.UID != 0 {
		s, err := caps.Get()
		if err != nil {
			return errs.Wrap("reading back capabilities", err)
		}
		var a uint64
		if k != 0 {
			a, err = caps.Ambient()
		}
		if s != (caps.Sets{Effective: k, Permitted: k, Inheritable: k}) {
			why = "capabilities after switching to uid " + utoa(uint64(t.UID), 10) +
				" are effective " + utoa(s.Effective, 16) + ", permitted " + utoa(s.Permitted, 16) + ", inheritable " + utoa(s.Inheritable, 16) +
				"; want " + utoa(k, 16)
		} else if err != nil || a != k {
			why = "ambient capabilities are " + utoa(a, 16) + ", want " + utoa(k, 16)
		} else if _, _, errno := unix.RawSyscall(sysSetuid, 0, 0, 0); errno == 0 {
			// The real test of a drop: root must now be out of reach for
			// the thread that will exec. Were it to succeed, gosu exits
			// without exec'ing.
			why = "setuid(0) succeeded after switching to uid " + utoa(uint64(t.UID), 10)
		}
	}
	if why != "" {
		return errors.New("credentials check failed: " + why)
	}
	return nil
}

// utoa formats u in base 10, or in base 16 with "0x". Not inlined: the
// messages above call it often, and each inlined copy costs bytes.
//
//go:noinline
func utoa(u uint64, base int) string {
	if base == 16 {
		return "0x" + strconv.FormatUint(u, 16)
	}
	return strconv.FormatUint(u, 10)
}

func triple(a [3]uint32) string {
	return utoa(uint64(a[0]), 10) + "/" + utoa(uint64(a[1]), 10) + "/" + utoa(uint64(a[2]), 10)
}

func list(a []uint32) string {
	s := "["
	for i, g := range a {
		if i > 0 {
			s += " "
		}
		s += utoa(uint64(g), 10)
	}
	return s + "]"
}
