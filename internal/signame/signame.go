// Package signame names Linux's signals and reads their names, for
// --pdeathsig and --explain. (golang.org/x/sys/unix's SignalName and
// SignalNum carry a table of structs and build a map: twice the size of
// this one string.)
package signame

import (
	"strconv"
	"strings"
	"syscall"

	"gosu/internal/caps"
)

// names are signals 1 to 31 without SIG, in order, one space after each.
const names = "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS "

// Name is "SIGTERM" for 15, the number for a real-time signal, "" for 0.
func Name(sig syscall.Signal) string {
	rest := names
	for n := syscall.Signal(1); n <= 31; n++ {
		name, after, _ := strings.Cut(rest, " ")
		if n == sig {
			return "SIG" + name
		}
		rest = after
	}
	if sig == 0 {
		return ""
	}
	return strconv.Itoa(int(sig))
}

// Parse reads TERM, SIGTERM, term or a number from 1 to 64; 0 for anything
// else.
func Parse(s string) syscall.Signal {
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 1 && n <= 64 {
			return syscall.Signal(n)
		}
		return 0
	}
	want := strings.TrimPrefix(caps.Upper(s), "SIG")
	rest := names
	for n := syscall.Signal(1); rest != ""; n++ {
		var name string
		name, rest, _ = strings.Cut(rest, " ")
		if name == want {
			return n
		}
	}
	return 0
}
