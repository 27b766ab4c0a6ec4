// Command nolandlock runs a command as if the kernel had no Landlock:
//
//	nolandlock [add_rule|restrict_self] ERRNO COMMAND [ARG...]
//
// It installs a seccomp filter (on every thread, and inherited across
// execve) that fails landlock_create_ruleset with ERRNO (ENOSYS: a kernel
// built without Landlock, or a container runtime's seccomp profile older than
// it; EOPNOTSUPP: Landlock left out of the lsm= boot parameter; EPERM: a
// profile that denies unknown calls with it), then execs COMMAND. Landlock
// cannot be switched off for one process, but this is what a process sees
// where it is missing. Needs root (CAP_SYS_ADMIN) or no_new_privs.
//
// With add_rule or restrict_self, it fails that call instead, and leaves
// landlock_create_ruleset alone: a Landlock that answers, then fails.
package main

import (
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	args := os.Args[1:]
	call := uint32(unix.SYS_LANDLOCK_CREATE_RULESET)
	if len(args) > 0 && (args[0] == "add_rule" || args[0] == "restrict_self") {
		call = map[string]uint32{"add_rule": unix.SYS_LANDLOCK_ADD_RULE, "restrict_self": unix.SYS_LANDLOCK_RESTRICT_SELF}[args[0]]
		args = args[1:]
	}
	if len(args) < 2 {
		os.Stderr.WriteString("usage: nolandlock [add_rule|restrict_self] ENOSYS|EOPNOTSUPP|EPERM COMMAND [ARG...]\n")
		os.Exit(2)
	}
	errno := map[string]syscall.Errno{"ENOSYS": unix.ENOSYS, "EOPNOTSUPP": unix.EOPNOTSUPP, "EPERM": unix.EPERM}[args[0]]
	path, err := exec.LookPath(args[1])
	if errno == 0 || err != nil {
		os.Stderr.WriteString("nolandlock: unknown errno or command\n")
		os.Exit(2)
	}
	const (
		ldAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK   = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 1, K: call},
		{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		os.Stderr.WriteString("nolandlock: seccomp: " + e.Error() + "\n")
		os.Exit(2)
	}
	err = syscall.Exec(path, args[1:], os.Environ())
	os.Stderr.WriteString("nolandlock: exec: " + err.Error() + "\n")
	os.Exit(2)
}
