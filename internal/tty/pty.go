package tty

import (
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// PTY is a new pseudo-terminal pair, as raw descriptors: the relay reads
// and writes them with plain system calls and waits with poll(2), which
// keeps Go's network poller out of the binary. Both are close-on-exec.
type PTY struct {
	Master int // stays in gosu's relay
	Slave  int // becomes the command's terminal
}

// Open opens a new pseudo-terminal whose slave belongs to uid (group
// unchanged, mode 0620, as login programs leave it), so that the command can
// reopen its terminal by name after the switch.
func Open(uid uint32) (PTY, error) {
	p := PTY{Master: -1, Slave: -1}
	var what string
	var err error
	if p.Master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
		what = "opening a new pseudo-terminal"
	} else if err = unix.IoctlSetPointerInt(p.Master, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		what = "unlocking the new pseudo-terminal"
	} else {
		// TIOCGPTPEER (Linux 4.13) opens the slave from the master itself,
		// with no lookup in /dev/pts that another devpts mount could
		// redirect.
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(p.Master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
		p.Slave = int(r)
		if errno != 0 {
			var n uint32
			if n, err = unix.IoctlGetUint32(p.Master, unix.TIOCGPTN); err != nil {
				what = "naming the new pseudo-terminal"
			} else if p.Slave, err = unix.Open("/dev/pts/"+strconv.FormatUint(uint64(n), 10), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
				what = "opening the new pseudo-terminal"
			}
		}
		if err == nil {
			if err = unix.Fchown(p.Slave, int(uid), -1); err != nil {
				what = "giving the new pseudo-terminal to uid " + strconv.FormatUint(uint64(uid), 10)
			} else if err = unix.Fchmod(p.Slave, 0o620); err != nil {
				what = "setting the mode of the new pseudo-terminal"
			}
		}
	}
	if err != nil {
		p.Close()
		return PTY{}, errs.Wrap(what, err)
	}
	return p, nil
}

// Close closes both ends that are still open.
func (p *PTY) Close() {
	p.CloseSlave()
	if p.Master >= 0 {
		unix.Close(p.Master)
		p.Master = -1
	}
}

// CloseSlave closes gosu's copy of the slave, once the child has its own:
// the last close of the slave then gives EIO on the master.
func (p *PTY) CloseSlave() {
	if p.Slave >= 0 {
		unix.Close(p.Slave)
		p.Slave = -1
	}
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// Inherit gives the slave the settings of the terminal at fd (erase and
// interrupt characters, modes) and its window size.
func (p PTY) Inherit(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	if err := unix.IoctlSetTermios(p.Slave, unix.TCSETS, t); err != nil {
		return err
	}
	return p.Resize(fd)
}

// Resize copies the window size of the terminal at fd to the pseudo-terminal;
// the kernel then sends SIGWINCH to the command's foreground process group.
func (p PTY) Resize(fd int) error {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return err
	}
	return unix.IoctlSetWinsize(p.Master, unix.TIOCSWINSZ, ws)
}

// MakeRaw puts the terminal at fd in raw mode (cfmakeraw(3)), so that every
// key, Ctrl-C and Ctrl-Z included, reaches the command's terminal as a byte,
// and returns the settings to restore. The change is made with SIGTTOU
// blocked, so that it never stops the caller: whoever calls it checks first
// that the terminal is its to change (MayChange).
func MakeRaw(fd int) (*unix.Termios, error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := withoutTTOU(fd, unix.TCSETS, unsafe.Pointer(&t)); err != nil {
		return nil, err
	}
	return old, nil
}

// AwaitForeground returns once the caller may change the terminal at fd,
// the way stty(1) finds out: it sets the terminal's own settings again,
// which changes nothing, and lets the kernel's job control act. A job in
// the background is stopped with SIGTTOU, and the call starts again each
// time the job is continued, until it is in the foreground. The caller's
// SIGTTOU must be in its default state (as Go leaves it); a signal that
// ends the caller (TERM, HUP) takes effect when the job is continued, as
// timeout(1) does it (TERM, then CONT). A job whose process group is
// orphaned has no shell to bring it to the foreground: the kernel answers
// EIO, as it does stty. Not the caller's controlling terminal, or SIGTTOU
// ignored: returns at once, as stty would change the terminal then.
func AwaitForeground(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err == nil {
		err = unix.IoctlSetTermios(fd, unix.TCSETS, t)
	}
	if err == unix.EIO {
		return errs.Explain("in the background, in an orphaned process group", err)
	}
	return err
}

// Restore sets the terminal at fd back to t, also from a background process
// group: restoring must never stop gosu on its way out.
func Restore(fd int, t *unix.Termios) error {
	return withoutTTOU(fd, unix.TCSETS, unsafe.Pointer(t))
}

// ForegroundGroup is tcgetpgrp(3): the foreground process group of the
// terminal at fd, which must be the caller's controlling terminal (else
// ENOTTY).
func ForegroundGroup(fd int) (int, error) {
	return unix.IoctlGetInt(fd, unix.TIOCGPGRP)
}

// Foreground reports whether the terminal at fd is the caller's controlling
// terminal and the caller's process group is in its foreground.
func Foreground(fd int) bool {
	pgrp, err := ForegroundGroup(fd)
	return err == nil && pgrp == unix.Getpgrp()
}

// MayChange reports whether the caller may change the terminal at fd
// without job control stopping it: it is a terminal and either not the
// caller's controlling terminal (ENOTTY from TIOCGPGRP) or one whose
// foreground is the caller's process group.
func MayChange(fd int) bool {
	pgrp, err := ForegroundGroup(fd)
	if err == unix.ENOTTY {
		return IsTerminal(fd)
	}
	return err == nil && pgrp == unix.Getpgrp()
}

// SetForeground makes pgrp the foreground process group of the terminal at
// fd, the caller's controlling terminal, also when the caller is in the
// background (tcsetpgrp(3)).
func SetForeground(fd, pgrp int) error {
	v := int32(pgrp)
	return withoutTTOU(fd, unix.TIOCSPGRP, unsafe.Pointer(&v))
}

// withoutTTOU makes the ioctl req on fd with SIGTTOU blocked on the calling
// thread. A process outside the terminal's foreground group that changes
// the terminal gets SIGTTOU, unless the signal is ignored or blocked; with
// Go's handler installed the kernel would instead restart the call forever
// (drivers/tty/tty_jobctrl.c, __tty_check_change). Blocking, unlike
// ignoring, is per thread and is not inherited across exec.
func withoutTTOU(fd int, req uintptr, arg unsafe.Pointer) error {
	runtime.LockOSThread()
	var set, old unix.Sigset_t
	set.Val[0] = 1 << (syscall.SIGTTOU - 1)
	err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old)
	if err == nil {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
			err = errno
		}
		unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
	runtime.UnlockOSThread()
	return err
}
