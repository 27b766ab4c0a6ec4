// Package caps reads and sets this thread's capability sets.
//
// Capabilities are per thread in the kernel: Get and Set act on the calling
// OS thread only, so they must run on the locked thread that later calls
// execve (gosu locks its main goroutine to the main thread at start-up).
package caps

import "golang.org/x/sys/unix"

// Sets are the three capability sets capget(2) and capset(2) handle, as bit
// masks indexed by capability number.
type Sets struct {
	Effective   uint64
	Permitted   uint64
	Inheritable uint64
}

func header() *unix.CapUserHeader {
	return &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
}

// Get returns the calling thread's capability sets.
func Get() (Sets, error) {
	var d [2]unix.CapUserData
	if err := unix.Capget(header(), &d[0]); err != nil {
		return Sets{}, err
	}
	join := func(lo, hi uint32) uint64 { return uint64(hi)<<32 | uint64(lo) }
	return Sets{
		Effective:   join(d[0].Effective, d[1].Effective),
		Permitted:   join(d[0].Permitted, d[1].Permitted),
		Inheritable: join(d[0].Inheritable, d[1].Inheritable),
	}, nil
}

// Set replaces the calling thread's capability sets.
func Set(s Sets) error {
	d := [2]unix.CapUserData{
		{Effective: uint32(s.Effective), Permitted: uint32(s.Permitted), Inheritable: uint32(s.Inheritable)},
		{Effective: uint32(s.Effective >> 32), Permitted: uint32(s.Permitted >> 32), Inheritable: uint32(s.Inheritable >> 32)},
	}
	return unix.Capset(header(), &d[0])
}

// last is the highest capability number this kernel knows: PR_CAPBSET_READ
// answers EINVAL beyond it (no /proc needed, unlike cap_last_cap). A binary
// search asks 6 times.
func last() int {
	lo, hi := 0, 63 // capability 0 always exists
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(mid), 0, 0, 0); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// each makes prctl(op, c) for each capability c in mask, up to the kernel's
// last one (prctl(op, sub, c) when sub is not 0), and returns the mask of
// those it answered 1 for. It stops at the first error.
func each(op, sub uintptr, mask uint64) (uint64, error) {
	var ones uint64
	for i, n := 0, last(); i <= n; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		a2, a3 := uintptr(i), uintptr(0)
		if sub != 0 {
			a2, a3 = sub, uintptr(i)
		}
		r, _, errno := unix.Syscall6(unix.SYS_PRCTL, op, a2, a3, 0, 0, 0)
		if errno != 0 {
			return 0, errno
		}
		if r == 1 {
			ones |= 1 << i
		}
	}
	return ones, nil
}

// Bounding returns the calling thread's bounding set.
func Bounding() (uint64, error) {
	return each(unix.PR_CAPBSET_READ, 0, ^uint64(0))
}

// LimitBounding drops from the calling thread's bounding set every
// capability not in keep. It needs CAP_SETPCAP, so it must come before the
// switch to a non-root uid.
func LimitBounding(keep uint64) error {
	_, err := each(unix.PR_CAPBSET_DROP, 0, ^keep)
	return err
}

// Ambient returns the calling thread's ambient set.
func Ambient() (uint64, error) {
	return each(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, ^uint64(0))
}

// RaiseAmbient adds every capability in mask to the calling thread's ambient
// set; each must already be permitted and inheritable.
func RaiseAmbient(mask uint64) error {
	_, err := each(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, mask)
	return err
}

// KeepOnSetuid sets the calling thread's SECBIT_KEEP_CAPS, so that a switch
// from uid 0 to another uid keeps the permitted set. execve clears it.
func KeepOnSetuid() error {
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0)
}
