// Command tiocsti is the TTY-injection attacker of gosu's tests (upstream
// gosu issue 37): it pushes "id\n" into its terminal's input with the
// TIOCSTI ioctl, which, on a terminal it shares with a root shell, makes that
// shell run id once gosu has exited. It says so when the kernel refuses.
//
// "tiocsti sctty" first tries to make stdin's terminal its controlling
// terminal again (TIOCSCTTY), which a session leader without one may do for
// a terminal that is no session's; "tiocsti notty sctty" gives up its
// controlling terminal (TIOCNOTTY) before that, as a session leader that
// detached in place would have.
package main

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	for _, step := range os.Args[1:] {
		switch step {
		case "notty":
			signal.Ignore(syscall.SIGHUP) // a session leader's TIOCNOTTY hangs up its group
			if err := unix.IoctlSetInt(0, unix.TIOCNOTTY, 0); err != nil {
				os.Stdout.WriteString("TIOCNOTTY-FAILED: " + err.Error() + "\n")
			}
		case "sctty":
			if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
				os.Stdout.WriteString("TIOCSCTTY-BLOCKED: " + err.Error() + "\n")
			} else {
				os.Stdout.WriteString("TIOCSCTTY-OK\n")
			}
		}
	}
	for _, c := range []byte("id\n") {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			os.Stdout.WriteString("TIOCSTI-BLOCKED: " + errno.Error() + "\n")
			os.Exit(1)
		}
	}
}
