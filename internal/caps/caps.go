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
