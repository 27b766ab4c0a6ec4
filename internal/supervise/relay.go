package supervise

import (
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/tty"
)

// relay is the --pty part of the loop: bytes from stdin (a terminal, in raw
// mode) to the pseudo-terminal's master, and from the master to stdout (or
// stderr), on raw descriptors. The master is non-blocking, and stdin is
// read only when what was read before has been written, so a command that
// reads nothing can never block the loop, and signals are handled all the
// time.
type relay struct {
	p     tty.PTY
	term  int  // the first terminal of stdin, stdout, stderr: window size
	in    bool // stdin is a terminal, relayed
	out   int  // where the command's terminal output goes
	saved *unix.Termios

	inDone, outDone, outBroken bool
	pend                       []byte // read from stdin, not yet written to the master
	inBuf, outBuf              []byte
	inIdx, mIdx                int // in the poll set, or -1

	last, stop time.Time // last output and the hard end, while draining
}

func newRelay(master, term, out int, in bool) *relay {
	r := &relay{p: tty.PTY{Master: master, Slave: -1}, term: term, in: in, out: out,
		inBuf: make([]byte, 4<<10), outBuf: make([]byte, 32<<10)}
	unix.SetNonblock(master, true)
	return r
}

// begin puts the caller's terminal in raw mode, when gosu's job is in its
// foreground (Run waited for that before starting the child); a job moved
// to the background since gets raw mode when it is continued in the
// foreground (enter).
func (r *relay) begin() error {
	if !r.in || !tty.MayChange(0) {
		return nil
	}
	t, err := tty.MakeRaw(0)
	if err != nil {
		return errs.Wrap("putting the terminal in raw mode", err)
	}
	r.saved = t
	return nil
}

// pollFds adds what the relay waits for. Stdin is read only while gosu's
// job may read the terminal (in the background a read would stop it; the
// SIGCONT of fg brings it back), and not once the command has exited: it is
// left to the caller's shell.
func (r *relay) pollFds(fds []unix.PollFd, exited bool) []unix.PollFd {
	r.inIdx, r.mIdx = -1, -1
	if r.in && !r.inDone && !exited && len(r.pend) == 0 && tty.MayChange(0) {
		r.inIdx = len(fds)
		fds = append(fds, unix.PollFd{Fd: 0, Events: unix.POLLIN})
	}
	var ev int16
	if !r.outDone {
		ev |= unix.POLLIN
	}
	if len(r.pend) > 0 {
		ev |= unix.POLLOUT
	}
	if ev != 0 {
		r.mIdx = len(fds)
		fds = append(fds, unix.PollFd{Fd: int32(r.p.Master), Events: ev})
	}
	return fds
}

// io moves what poll said is ready.
func (r *relay) io(fds []unix.PollFd, now time.Time) {
	if r.inIdx >= 0 && fds[r.inIdx].Revents != 0 {
		n, err := unix.Read(0, r.inBuf)
		switch {
		case n > 0:
			r.pend = r.inBuf[:n]
			r.write()
		case err == unix.EIO && !tty.MayChange(0):
			// Moved to the background since pollFds looked.
		case err != unix.EINTR && err != unix.EAGAIN:
			r.inDone = true // hung up
		}
	}
	if r.mIdx < 0 {
		return
	}
	rev := fds[r.mIdx].Revents
	if rev&unix.POLLOUT != 0 {
		r.write()
	}
	if rev&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 && !r.outDone {
		r.read(now)
	}
}

func (r *relay) write() {
	n, err := unix.Write(r.p.Master, r.pend)
	switch {
	case n > 0:
		r.pend = r.pend[n:]
	case err != unix.EAGAIN && err != unix.EINTR:
		r.pend = nil
	}
}

func (r *relay) read(now time.Time) {
	n, err := unix.Read(r.p.Master, r.outBuf)
	switch {
	case n > 0:
		r.last = now
		if !r.outBroken && writeAll(r.out, r.outBuf[:n]) != nil {
			r.outBroken = true // keep reading, so the command never blocks
		}
	case err == unix.EAGAIN || err == unix.EINTR:
	default:
		// EIO: the slave is closed everywhere.
		r.outDone, r.pend = true, nil
	}
}

func (r *relay) resize() { r.p.Resize(r.term) }

// enter puts the terminal back in raw mode after a stop, when gosu's job is
// in the foreground (or stdin is not its controlling terminal).
func (r *relay) enter() {
	if r.in && r.saved == nil && tty.MayChange(0) {
		r.saved, _ = tty.MakeRaw(0)
	}
	r.resize()
}

// leave restores the terminal's modes.
func (r *relay) leave() {
	if r.saved != nil {
		tty.Restore(0, r.saved)
		r.saved = nil
	}
}

// drainFrom starts the last relaying after the command's exit.
func (r *relay) drainFrom(now time.Time) {
	r.last, r.stop = now, now.Add(drainMax)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case n > 0:
			b = b[n:]
		case err == unix.EAGAIN:
			// Someone made the shared descriptor non-blocking.
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
		case err != unix.EINTR:
			return err
		}
	}
	return nil
}
