// Package signame names Linux's signals and reads their names, for
// --pdeathsig and --explain. Signal numbers differ between architectures
// (on mips SIGUSR1 is 16 and 10 is SIGBUS; sparc has its own order), so
// each name is paired with golang.org/x/sys/unix's constant for the
// architecture being built. (unix.SignalName and unix.SignalNum carry a
// description of every signal and build a map: twice the size.)
package signame

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
)

type entry struct {
	sig  syscall.Signal
	name string // without "SIG"
}

// signals are the standard signals every Linux architecture has; the one
// that differs (STKFLT, or EMT on mips and sparc) is archSignal.
var signals = [...]entry{
	{unix.SIGHUP, "HUP"}, {unix.SIGINT, "INT"}, {unix.SIGQUIT, "QUIT"}, {unix.SIGILL, "ILL"},
	{unix.SIGTRAP, "TRAP"}, {unix.SIGABRT, "ABRT"}, {unix.SIGBUS, "BUS"}, {unix.SIGFPE, "FPE"},
	{unix.SIGKILL, "KILL"}, {unix.SIGUSR1, "USR1"}, {unix.SIGSEGV, "SEGV"}, {unix.SIGUSR2, "USR2"},
	{unix.SIGPIPE, "PIPE"}, {unix.SIGALRM, "ALRM"}, {unix.SIGTERM, "TERM"}, archSignal,
	{unix.SIGCHLD, "CHLD"}, {unix.SIGCONT, "CONT"}, {unix.SIGSTOP, "STOP"}, {unix.SIGTSTP, "TSTP"},
	{unix.SIGTTIN, "TTIN"}, {unix.SIGTTOU, "TTOU"}, {unix.SIGURG, "URG"}, {unix.SIGXCPU, "XCPU"},
	{unix.SIGXFSZ, "XFSZ"}, {unix.SIGVTALRM, "VTALRM"}, {unix.SIGPROF, "PROF"}, {unix.SIGWINCH, "WINCH"},
	{unix.SIGIO, "IO"}, {unix.SIGPWR, "PWR"}, {unix.SIGSYS, "SYS"},
}

// Name is "SIGTERM" for SIGTERM, the number for a real-time signal, "" for 0.
func Name(sig syscall.Signal) string {
	for _, e := range signals {
		if e.sig == sig {
			return "SIG" + e.name
		}
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
	for _, e := range signals {
		if e.name == want {
			return e.sig
		}
	}
	return 0
}
