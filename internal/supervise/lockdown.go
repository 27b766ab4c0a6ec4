package supervise

import (
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// closeInherited closes the descriptors above 2 that gosu inherited: the
// child has its own copies, and the parent must not keep a socket, a pipe
// or a lock open for as long as the command runs. Inherited descriptors are
// exactly those without FD_CLOEXEC (they survived the exec that started
// gosu), while everything gosu or Go's runtime opened has it (Go opens
// everything O_CLOEXEC), so the parent's own (the self-pipe, the master,
// the runtime's epoll descriptor if it has one) stay without being named.
func closeInherited() {
	for _, fd := range openFDs() {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// openFDs lists the descriptors above 2 from /proc/self/fd, or, without
// /proc, every number up to the descriptor limit (at most 65536).
func openFDs() []int {
	var fds []int
	names, err := readDir("/proc/self/fd")
	if err != nil {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		for fd := 3; fd < int(min(lim.Cur, 1<<16)); fd++ {
			fds = append(fds, fd)
		}
		return fds
	}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd > 2 {
			fds = append(fds, fd)
		}
	}
	return fds
}

func readDir(path string) ([]string, error) {
	dir, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	var names []string
	buf := make([]byte, 4<<10)
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			// The directory's own descriptor is gone by the time anyone
			// looks at the list.
			self := strconv.Itoa(dir)
			for i, name := range names {
				if name == self {
					names = append(names[:i], names[i+1:]...)
					break
				}
			}
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// children lists gosu's children, from each thread's
// /proc/self/task/TID/children (orphans are given to any live thread of a
// subreaper). Without /proc the list is empty.
func children() []int {
	var pids []int
	tids, _ := readDir("/proc/self/task")
	buf := make([]byte, 4<<10)
	for _, tid := range tids {
		fd, err := unix.Open("/proc/self/task/"+tid+"/children", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		n, _ := unix.Read(fd, buf)
		unix.Close(fd)
		for _, f := range strings.Fields(string(buf[:max(n, 0)])) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// dropPrivileges leaves the parent what it needs to signal and reap a
// command running as another user, and nothing else: uid 0 stays (as the
// target's uid, the command could ptrace the parent and use its terminal
// descriptors), and of the capabilities only CAP_KILL, in the permitted and
// effective sets (the inheritable and ambient ones empty), and
// no_new_privs. Capabilities and no_new_privs belong to threads, so every
// change is made on all of them (syscall.AllThreadsSyscall, which needs a
// binary without cgo).
//
// The bounding set is left as it is: it only limits what an exec can gain,
// and the parent execs nothing (and could gain nothing with no_new_privs).
// Dropping it would take one all-threads call, a stop of the world, per
// capability: measured, that made --init's start-up 4 times slower.
func dropPrivileges() error {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	const kill = 1 << unix.CAP_KILL
	keep := data[0].Permitted & kill
	data = [2]unix.CapUserData{{Effective: keep, Permitted: keep}}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); errno != 0 {
		return errno
	}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); errno != 0 {
		return errno
	}
	return nil
}
