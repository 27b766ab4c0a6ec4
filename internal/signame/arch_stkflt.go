//go:build linux && !(mips || mipsle || mips64 || mips64le || sparc64)

package signame

import "golang.org/x/sys/unix"

var archSignal = entry{unix.SIGSTKFLT, "STKFLT"}
