// Package drop switches this process to a target identity and proves the
// switch before anything is exec'd.
//
// The order is the kernel's: supplementary groups and gid need CAP_SETGID,
// which setresuid to a non-root uid takes away, so they come first; uid last.
// setgroups, setresgid and setresuid go through package syscall, which applies
// them to every thread of the process (unix.Setgroups would change only the
// calling thread and leave the others, and anything they start, as root).
// Capabilities are per thread: they are cleared on the calling thread, which
// must be the locked thread that execs.
package drop

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
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

// RefuseSetuid returns an error when the process runs with real and
// effective ids that differ, which is what a setuid or setgid install gives.
// It reads credentials, not the file mode of /proc/self/exe, so it also works
// where /proc is not mounted.
func RefuseSetuid(prog string) error {
	const instead = ", which is an extremely insecure and completely unsupported configuration! (what you want instead is likely 'sudo' or 'su')"
	if r, e := unix.Getuid(), unix.Geteuid(); r != e {
		return errors.New(prog + " appears to be installed with the 'setuid' bit set (real uid " + itoa(r) + ", effective uid " + itoa(e) + ")" + instead)
	}
	if r, e := unix.Getgid(), unix.Getegid(); r != e {
		return errors.New(prog + " appears to be installed with the 'setgid' bit set (real gid " + itoa(r) + ", effective gid " + itoa(e) + ")" + instead)
	}
	return nil
}

// Switch makes the process run as t, verifies it, and then sets what must be
// set last. Only the ids that differ are set: when the process already is
// exactly t, no set*id call is made, so a non-root caller (or root in a user
// namespace where setgroups is denied) can ask for its own identity. A
// non-root target ends with exactly KeepCaps as its effective, permitted,
// inheritable and ambient sets (empty by default).
//
// Every capability and prctl step acts on the calling thread only, which must
// be the locked thread that then calls execve.
func Switch(t Target) error {
	c, err := current()
	if err != nil {
		return errors.New("reading credentials: " + err.Error())
	}
	// Dropping from the bounding set needs CAP_SETPCAP, which a non-root uid
	// no longer has: first.
	if t.LimitBounding {
		if err := caps.LimitBounding(t.KeepCaps); err != nil {
			return errors.New("limiting the bounding set: " + capErr(err, "CAP_SETPCAP"))
		}
	}
	if t.UID != 0 && t.KeepCaps != 0 {
		// Without SECBIT_KEEP_CAPS, setresuid from 0 empties the permitted
		// set, and nothing could be kept. execve clears the bit again.
		if err := caps.KeepOnSetuid(); err != nil {
			return errors.New("keeping capabilities: " + err.Error())
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
			return errors.New("setting capabilities: " + capErr(err, "the capabilities to keep"))
		}
		// Ambient capabilities are what survives execve for a non-root
		// program without file capabilities.
		if err := caps.RaiseAmbient(kept); err != nil {
			return errors.New("raising ambient capabilities: " + err.Error())
		}
	}
	if t.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return errors.New("setting no_new_privs: " + err.Error())
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
		return errors.New("setting the parent-death signal: " + err.Error())
	}
	if unix.Getppid() != ppid {
		return errors.New("the parent process exited before the parent-death signal was set")
	}
	return nil
}

// capErr explains a capability operation refused for lack of a capability.
func capErr(err error, need string) string {
	if errors.Is(err, syscall.EPERM) {
		return "operation not permitted (needs " + need + " in the permitted set)"
	}
	return err.Error()
}

// ids is the process's current identity as the kernel reports it on this
// thread.
type ids struct {
	uid, gid [3]uint32 // real, effective, saved
	groups   []uint32
}

func current() (ids, error) {
	var c ids
	r, e, s := unix.Getresuid()
	c.uid = [3]uint32{uint32(r), uint32(e), uint32(s)}
	r, e, s = unix.Getresgid()
	c.gid = [3]uint32{uint32(r), uint32(e), uint32(s)}
	groups, err := unix.Getgroups()
	for _, g := range groups {
		c.groups = append(c.groups, uint32(g))
	}
	return c, err
}

// sameSet compares group lists as sets: the kernel sorts the list it is
// given, and a repeated gid grants nothing more.
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

// change makes the ids t, calling only what must change: in a user namespace
// where setgroups is denied, asking for the current groups must still work.
func (c ids) change(t Target) error {
	if !sameSet(c.groups, t.Groups) {
		groups := make([]int, len(t.Groups))
		for i, g := range t.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return explain("setgroups", err, t)
		}
	}
	if c.gid != [3]uint32{t.GID, t.GID, t.GID} {
		if err := syscall.Setresgid(int(t.GID), int(t.GID), int(t.GID)); err != nil {
			return explain("setgid", err, t)
		}
	}
	if c.uid != [3]uint32{t.UID, t.UID, t.UID} {
		if err := syscall.Setresuid(int(t.UID), int(t.UID), int(t.UID)); err != nil {
			return explain("setuid", err, t)
		}
	}
	return nil
}

// explain turns a failed set*id call into a message that says why, instead of
// a bare "operation not permitted".
func explain(call string, err error, t Target) error {
	var why string
	switch {
	case errors.Is(err, syscall.EPERM) && unix.Geteuid() != 0:
		why = "not running as root (uid " + itoa(unix.Geteuid()) + "): only root can switch to another identity; without root, gosu can only run a command as its own current identity"
	case errors.Is(err, syscall.EPERM) && call == "setgroups" && setgroupsDenied():
		why = "setgroups is denied in this user namespace (/proc/self/setgroups is \"deny\"), so the supplementary groups cannot be changed"
	case errors.Is(err, syscall.EPERM) && call == "setuid":
		why = "the process lacks CAP_SETUID (a container started without it?)"
	case errors.Is(err, syscall.EPERM):
		why = "the process lacks CAP_SETGID (a container started without it?)"
	case errors.Is(err, syscall.EINVAL) && call == "setuid":
		why = "uid " + utoa(t.UID) + " is not mapped in this user namespace"
	case errors.Is(err, syscall.EINVAL) && call == "setgid":
		why = "gid " + utoa(t.GID) + " is not mapped in this user namespace"
	case errors.Is(err, syscall.EINVAL) && len(t.Groups) > ngroupsMax:
		why = strconv.Itoa(len(t.Groups)) + " supplementary groups are more than the kernel's limit of " + strconv.Itoa(ngroupsMax)
	case errors.Is(err, syscall.EINVAL):
		why = "a supplementary group is not mapped in this user namespace"
	default:
		why = err.Error()
	}
	return errors.New(call + ": " + why)
}

func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && string(b) == "deny\n"
}

// verify reads the credentials back and refuses to go on unless they are
// exactly t, and, for a non-root t, unless root is out of reach.
func verify(t Target) error {
	c, err := current()
	if err != nil {
		return errors.New("reading back credentials: " + err.Error())
	}
	if c.uid != [3]uint32{t.UID, t.UID, t.UID} {
		return errors.New("credentials check failed: real/effective/saved uid are " + triple(c.uid) + ", want " + utoa(t.UID))
	}
	if c.gid != [3]uint32{t.GID, t.GID, t.GID} {
		return errors.New("credentials check failed: real/effective/saved gid are " + triple(c.gid) + ", want " + utoa(t.GID))
	}
	if !sameSet(c.groups, t.Groups) {
		return errors.New("credentials check failed: supplementary groups are " + list(c.groups) + ", want " + list(t.Groups))
	}
	if t.LimitBounding {
		if b, err := caps.Bounding(); err != nil || b&^t.KeepCaps != 0 {
			return errors.New("credentials check failed: bounding set " + hex(b) + " is not limited to " + hex(t.KeepCaps))
		}
	}
	if t.NoNewPrivs {
		if on, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err != nil || on != 1 {
			return errors.New("credentials check failed: no_new_privs is not set")
		}
	}
	if t.UID == 0 {
		return nil
	}
	s, err := caps.Get()
	if err != nil {
		return errors.New("reading back capabilities: " + err.Error())
	}
	k := t.KeepCaps
	if s != (caps.Sets{Effective: k, Permitted: k, Inheritable: k}) {
		return errors.New("credentials check failed: capabilities after switching to uid " + utoa(t.UID) +
			" are effective " + hex(s.Effective) + ", permitted " + hex(s.Permitted) + ", inheritable " + hex(s.Inheritable) +
			"; want " + hex(k))
	}
	if k != 0 {
		if a, err := caps.Ambient(); err != nil || a != k {
			return errors.New("credentials check failed: ambient capabilities are " + hex(a) + ", want " + hex(k))
		}
	}
	// The real test of a drop: root must now be out of reach. Asked of this
	// thread alone (the one that will exec): were it to succeed, gosu exits
	// without exec'ing, so the other threads need not be asked too, which
	// would stop the world once more.
	if _, _, errno := syscall.RawSyscall(unix.SYS_SETUID, 0, 0, 0); errno == 0 {
		return errors.New("credentials check failed: setuid(0) succeeded after switching to uid " + utoa(t.UID))
	}
	return nil
}

func itoa(i int) string    { return strconv.Itoa(i) }
func utoa(u uint32) string { return strconv.FormatUint(uint64(u), 10) }
func hex(u uint64) string  { return "0x" + strconv.FormatUint(u, 16) }
func triple(a [3]uint32) string {
	return utoa(a[0]) + "/" + utoa(a[1]) + "/" + utoa(a[2])
}

func list(a []uint32) string {
	s := "["
	for i, g := range a {
		if i > 0 {
			s += " "
		}
		s += utoa(g)
	}
	return s + "]"
}
