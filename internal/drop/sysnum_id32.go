//go:build linux && (386 || arm)

package drop

import "golang.org/x/sys/unix"

// On 386 and 32-bit arm the plain credential system calls are the old ones
// with 16-bit ids (a uid above 65535 reads back as 65534); the *32 ones take
// full 32-bit ids. (golang.org/x/sys's Getresuid uses the 16-bit call here.)
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresgid = unix.SYS_SETRESGID32
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetuid    = unix.SYS_SETUID32
	sysGetgroups = unix.SYS_GETGROUPS32
	sysGetresgid = unix.SYS_GETRESGID32
	sysGetresuid = unix.SYS_GETRESUID32
)
