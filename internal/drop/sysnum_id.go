//go:build linux && !(386 || arm)

package drop

import "golang.org/x/sys/unix"

const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresgid = unix.SYS_SETRESGID
	sysSetresuid = unix.SYS_SETRESUID
	sysSetuid    = unix.SYS_SETUID
	sysGetgroups = unix.SYS_GETGROUPS
	sysGetresgid = unix.SYS_GETRESGID
	sysGetresuid = unix.SYS_GETRESUID
)
