// Command tiocsti is the TTY-injection attacker of gosu's tests (upstream
// gosu issue 37): it pushes "id\n" into its terminal's input with the
// TIOCSTI ioctl, which, on a terminal it shares with a root shell, makes that
// shell run id once gosu has exited. It says so when the kernel refuses.
package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	for _, c := range []byte("id\n") {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			os.Stdout.WriteString("TIOCSTI-BLOCKED: " + errno.Error() + "\n")
			os.Exit(1)
		}
	}
}
