// Package tty handles the caller's terminal: detaching from it, and opening
// and relaying a new pseudo-terminal.
//
// A program that shares the caller's controlling terminal can push bytes
// into its input with the TIOCSTI ioctl, and they run in the root shell after
// gosu exits (upstream gosu issue 37). The kernel allows TIOCSTI only on the
// caller's own controlling terminal (without CAP_SYS_ADMIN), so a process
// with no controlling terminal, or a different one, cannot do it.
package tty

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Detach makes the process lose its controlling terminal; stdio and the PID
// stay.
//
// setsid(2) gives a new session without a terminal, but fails for a process
// group leader, which is what a shell with job control makes of every
// command it runs; then TIOCNOTTY detaches the terminal instead, leaving the
// process in its session (so Ctrl-C from that terminal still reaches it).
func Detach() error {
	if _, err := unix.Setsid(); err == nil {
		return nil
	}
	fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil // there is no controlling terminal
	}
	if err != nil {
		return errors.New("opening the controlling terminal: " + err.Error())
	}
	defer unix.Close(fd)
	if sid, _ := unix.Getsid(0); sid == unix.Getpid() {
		// A session leader's TIOCNOTTY sends SIGHUP to the terminal's
		// foreground process group, which is usually gosu itself (a
		// container's PID 1 started with a terminal): ignore it meanwhile.
		if !signal.Ignored(syscall.SIGHUP) {
			signal.Ignore(syscall.SIGHUP)
			// Notify then Reset puts back the runtime's own handler, which
			// the exec then resets to the default action, as without this.
			defer func() { signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP); signal.Reset(syscall.SIGHUP) }()
		}
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCNOTTY, 0); err != nil {
		return errors.New("detaching from the controlling terminal: " + err.Error())
	}
	return nil
}
