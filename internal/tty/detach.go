// Package tty handles the caller's terminal: detaching from it, and opening
// a new pseudo-terminal and switching terminal modes for the relay that
// package supervise runs.
//
// A program that shares the caller's controlling terminal can push bytes
// into its input with the TIOCSTI ioctl, and they run in the root shell after
// gosu exits (upstream gosu issue 37). The kernel allows TIOCSTI only on the
// caller's own controlling terminal (without CAP_SYS_ADMIN), so a process
// with no controlling terminal, or a different one, cannot do it.
package tty

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// ErrLeadsSession is Detach's refusal for a session leader with a
// controlling terminal.
var ErrLeadsSession = errors.New("gosu leads its session and has a controlling terminal: giving it up (TIOCNOTTY) would leave the command a session leader that can take it back with TIOCSCTTY, so the command must run in a new session under a supervising parent")

// Detach makes the process lose its controlling terminal; stdio and the PID
// stay.
//
// setsid(2) gives a new session without a terminal, but fails for a process
// group leader, which is what a shell with job control makes of every
// command it runs; then TIOCNOTTY detaches the terminal instead, leaving the
// process in its session (so Ctrl-C from that terminal still reaches it).
//
// A session leader is refused (ErrLeadsSession): after TIOCNOTTY it would
// still lead its session, and a session leader without a terminal may make
// any terminal that is no session's its controlling one again (TIOCSCTTY),
// which TIOCNOTTY has just made this one; the plan runs such a process's
// command under a supervising parent instead (package supervise, and
// plan's detach).
func Detach() error {
	if _, err := unix.Setsid(); err == nil {
		return nil
	}
	fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err == syscall.ENXIO {
		return nil // there is no controlling terminal
	}
	if err != nil {
		return errs.Wrap("opening the controlling terminal", err)
	}
	if sid, _ := unix.Getsid(0); sid == unix.Getpid() {
		err = ErrLeadsSession
	} else if err = unix.IoctlSetInt(fd, unix.TIOCNOTTY, 0); err != nil {
		err = errs.Wrap("detaching from the controlling terminal", err)
	}
	unix.Close(fd)
	return err
}
