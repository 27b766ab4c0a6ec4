package supervise

import (
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/fds"
)

// closeInherited closes the descriptors above 2 that gosu inherited: the
// child has its own copies, and the parent must not keep a socket, a pipe
// or a lock open for as long as the command runs. Inherited descriptors are
// exactly those without FD_CLOEXEC (they survived the exec that started
// gosu), while everything gosu or Go's runtime opened has it (Go opens
// everything O_CLOEXEC), so the parent's own (the self-pipe, the master,
// the runtime's epoll descriptor if it has one) stay without being named. The descriptors are listed from /proc/self/fd,
// or, without /proc, are every number up to the descriptor limit (at most
// 65536).
func closeInherited() {
	var open []int
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		open, err = fds.List(dir)
		unix.Close(dir)
	}
	if err != nil {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		open = open[:0]
		for fd := 3; fd < int(min(lim.Cur, 1<<16)); fd++ {
			open = append(open, fd)
		}
	}
	for _, fd := range open {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fd > 2 && err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// children lists gosu's children, from each thread's
// /proc/self/task/TID/children (orphans are given to any live thread of a
// subreaper). Without /proc the list is empty.
func children() []int {
	var pids, tids []int
	dir, err := unix.Open("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		tids, _ = fds.List(dir)
		unix.Close(dir)
	}
	buf := make([]byte, 4<<10)
	for _, tid := range tids {
		fd, err := unix.Open("/proc/self/task/"+strconv.Itoa(tid)+"/children", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		n, _ := unix.Read(fd, buf)
		unix.Close(fd)
		// Space-separated decimal PIDs.
		pid, digits := 0, false
		for _, c := range buf[:max(n, 0)] {
			if c >= '0' && c <= '9' {
				pid, digits = pid*10+int(c-'0'), true
				continue
			}
			if digits {
				pids = append(pids, pid)
			}
			pid, digits = 0, false
		}
		if digits {
			pids = append(pids, pid)
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
