package tty

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// PTY is a new pseudo-terminal pair, as raw descriptors: the relay reads
// and writes them with plain system calls and waits with poll(2), which
// keeps Go's network poller and timers out of the binary.
type PTY struct {
	Master int // stays in gosu's relay
	Slave  int // becomes the command's terminal
}

// Open opens a new pseudo-terminal whose slave belongs to uid (group
// unchanged, mode 0620, as login programs leave it), so that the command can
// reopen its terminal by name after the switch.
func Open(uid uint32) (p PTY, err error) {
	fail := func(what string, err error) (PTY, error) {
		p.Close()
		return PTY{}, errors.New(what + ": " + err.Error())
	}
	p = PTY{Master: -1, Slave: -1}
	if p.Master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
		return fail("opening a new pseudo-terminal", err)
	}
	if err := unix.IoctlSetPointerInt(p.Master, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		return fail("unlocking the new pseudo-terminal", err)
	}
	// TIOCGPTPEER (Linux 4.13) opens the slave from the master itself, with
	// no lookup in /dev/pts that another devpts mount could redirect.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(p.Master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	p.Slave = int(r)
	if errno != 0 {
		n, err := unix.IoctlGetUint32(p.Master, unix.TIOCGPTN)
		if err != nil {
			return fail("naming the new pseudo-terminal", err)
		}
		if p.Slave, err = unix.Open("/dev/pts/"+strconv.FormatUint(uint64(n), 10), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
			return fail("opening the new pseudo-terminal", err)
		}
	}
	if err := unix.Fchown(p.Slave, int(uid), -1); err != nil {
		return fail("giving the new pseudo-terminal to uid "+strconv.FormatUint(uint64(uid), 10), err)
	}
	if err := unix.Fchmod(p.Slave, 0o620); err != nil {
		return fail("setting the mode of the new pseudo-terminal", err)
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
func IsTerminal(fd int) bool { return term.IsTerminal(fd) }

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

// MakeRaw puts the terminal at fd in raw mode, so that every key, Ctrl-C
// included, goes to the command's terminal as a byte; restore undoes it.
func MakeRaw(fd int) (restore func(), err error) {
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { term.Restore(fd, old) }, nil
}

// Copy writes everything read from src to dst until src ends or fails.
func Copy(dst, src int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Read(src, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || writeAll(dst, buf[:n]) != nil {
			return
		}
	}
}

// Drain copies from the master to dst until the slave is closed everywhere
// (EIO), or, once done reports true, until nothing arrived for idleMs.
func (p PTY) Drain(dst int, done func() bool, idleMs int) {
	buf := make([]byte, 32<<10)
	fds := []unix.PollFd{{Fd: int32(p.Master), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, idleMs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if n == 0 {
			if done() {
				return
			}
			continue
		}
		m, err := unix.Read(p.Master, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if m <= 0 {
			return // EIO
		}
		writeAll(dst, buf[:m])
	}
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
