// Command withaccounts runs a command with fixture account files, without
// touching the machine's /etc: in a private mount namespace it bind-mounts
// PASSWD over /etc/passwd and GROUP over /etc/group, then execs the command
// (same PID). With -no-proc, /proc is hidden under an empty tmpfs. With
// -signals, every signal that can be is ignored and every signal blocked
// just before the exec, so the command starts with that signal state.
//
//	withaccounts [-no-proc] [-signals] PASSWD GROUP COMMAND [ARG...]
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	// The mount namespace is unshared by this thread only; it becomes the
	// process's when this same thread calls execve.
	runtime.LockOSThread()
	args := os.Args[1:]
	noProc, signals := false, false
	for len(args) > 0 && (args[0] == "-no-proc" || args[0] == "-signals") {
		noProc = noProc || args[0] == "-no-proc"
		signals = signals || args[0] == "-signals"
		args = args[1:]
	}
	if len(args) < 3 {
		die("usage: withaccounts [-no-proc] [-signals] PASSWD GROUP COMMAND [ARG...]")
	}
	must("unshare", unix.Unshare(unix.CLONE_NEWNS))
	must("make / private", unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	must("bind passwd", unix.Mount(args[0], "/etc/passwd", "", unix.MS_BIND, ""))
	must("bind group", unix.Mount(args[1], "/etc/group", "", unix.MS_BIND, ""))
	path, err := exec.LookPath(args[2])
	must("look up command", err)
	if noProc {
		must("hide /proc", unix.Mount("tmpfs", "/proc", "tmpfs", 0, "size=4k"))
	}
	if signals {
		for sig := 1; sig <= 64; sig++ {
			signal.Ignore(syscall.Signal(sig)) // the runtime ignores what it may
		}
		var all unix.Sigset_t
		for i := range all.Val {
			all.Val[i] = ^all.Val[i]
		}
		// This thread's mask is what execve hands on; blocking last keeps
		// the runtime from noticing.
		must("block signals", unix.PthreadSigmask(unix.SIG_SETMASK, &all, nil))
	}
	must("exec", syscall.Exec(path, args[2:], os.Environ()))
}

func must(what string, err error) {
	if err != nil {
		die("withaccounts: " + what + ": " + err.Error())
	}
}

func die(msg string) {
	os.Stderr.WriteString(msg + "\n")
	os.Exit(111)
}
