//go:build linux && (mips || mipsle || mips64 || mips64le || sparc64)

package signame

import "golang.org/x/sys/unix"

// mips and sparc have SIGEMT where the others have SIGSTKFLT.
var archSignal = entry{unix.SIGEMT, "EMT"}
