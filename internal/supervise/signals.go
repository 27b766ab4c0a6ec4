package supervise

import (
	"errors"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/tty"
)

// caught reports whether the parent catches sig, to forward it or act on it.
// Every signal that can be caught is, except:
//   - SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: the parent's own
//     faults (tini keeps these too);
//   - SIGURG: Go's runtime preempts goroutines with it, and os/signal
//     delivers those to a channel that asks for SIGURG; forwarding them
//     would shower the command with signals it never got sent. A real
//     SIGURG (out-of-band socket data; ignored by default) is not forwarded;
//   - 32 and 33: C libraries' internal signals, and Go's for
//     AllThreadsSyscall;
//   - SIGTTIN, SIGTTOU: the kernel's job control for the parent's own use of
//     the terminal. With a Go handler installed, a read or a mode change
//     from the background would be restarted forever; left alone they stop
//     the --pty relay as any job (the init ignores them, as tini does).
func caught(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP,
		unix.SIGSYS, unix.SIGURG, 32, 33, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return sig >= 1 && sig <= 64
}

// listen routes every caught signal to the self-pipe, before the child
// exists, so that no signal meant for it is lost. A signal that was ignored
// when gosu started and that the runtime left ignored (SIGHUP under nohup,
// SIGINT in a background job of a script) is not caught: it stays ignored
// for the child too, as it would without a parent.
func (s *supervisor) listen() error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return errors.New("creating a pipe: " + err.Error())
	}
	s.sigR, s.sigW = p[0], p[1]
	var std, rt []os.Signal
	for n := 1; n <= 64; n++ {
		if sig := syscall.Signal(n); caught(sig) && !signal.Ignored(sig) {
			if n < 32 {
				std = append(std, sig)
			} else {
				rt = append(rt, sig)
			}
		}
	}
	s.sigs, s.sigDone = make(chan os.Signal, 64), make(chan struct{})
	signal.Notify(s.sigs, std...)
	// os/signal hands each signal to its mask thread and waits, about
	// 0.1 ms a signal: the 31 real-time ones would double --init's
	// start-up. Until they are caught, the runtime drops them (they are
	// not fatal to it), so catching them while the child starts loses at
	// most one sent in the first milliseconds; the standard ones, which
	// would end or stop gosu uncaught, are caught before the child exists.
	go signal.Notify(s.sigs, rt...)
	go pump(s.sigs, s.sigW, s.sigDone)
	return nil
}

// pump writes each signal from sigs to the self-pipe w as a byte.
func pump(sigs <-chan os.Signal, w int, done chan<- struct{}) {
	for sig := range sigs {
		// Non-blocking: with 64 KiB of signals unread, more are lost
		// rather than this goroutine stuck where stop waits for it.
		unix.Write(w, []byte{byte(sig.(syscall.Signal))})
	}
	close(done)
}

// stop undoes listen.
func (s *supervisor) stop() {
	if s.sigs != nil {
		signal.Stop(s.sigs) // no send on sigs after this returns
		close(s.sigs)
		<-s.sigDone
		unix.Close(s.sigR)
		unix.Close(s.sigW)
		s.sigs = nil
	}
	if s.relay != nil {
		s.relay.p.Close()
	}
}

// signals handles the signals waiting in the pipe, in order.
func (s *supervisor) signals() {
	var buf [128]byte
	for {
		n, _ := unix.Read(s.sigR, buf[:])
		for _, b := range buf[:max(n, 0)] {
			s.signal(syscall.Signal(b))
		}
		if n < len(buf) {
			return
		}
	}
}

func (s *supervisor) signal(sig syscall.Signal) {
	switch {
	case sig == unix.SIGCHLD:
		s.reap()
	case s.exited:
		// Nothing left to forward to. A request to end cuts the relay's
		// last output short.
		if sig == unix.SIGHUP || sig == unix.SIGINT || sig == unix.SIGTERM || sig == unix.SIGQUIT {
			s.hurry = true
		}
	case sig == unix.SIGWINCH && s.relay != nil:
		s.relay.resize()
	case sig == unix.SIGTSTP && s.relay != nil:
		// The command leads its own session, so its process group is
		// orphaned, and the kernel discards a SIGTSTP whose action is to
		// stop it (sudo puts a monitor process in between instead). STOP
		// cannot be discarded; the stop then suspends the relay too.
		unix.Kill(-s.pid, unix.SIGSTOP)
	case sig == unix.SIGCONT:
		s.enter()
		s.forward(sig)
	default:
		s.forward(sig)
	}
}

// forward sends sig to the command, or to its process group (tini -g).
func (s *supervisor) forward(sig syscall.Signal) {
	target := s.pid
	if s.c.Group {
		target = -s.pid
	}
	unix.Kill(target, sig)
}

// stopped handles the command stopping (Ctrl-Z, kill -STOP, bash's
// suspend). When it holds the terminal (through the relay, or as the
// foreground the init gave it), the parent gives the terminal back, stops
// itself so that the calling shell takes over and shows the job as
// stopped, and on SIGCONT (fg, bg) takes the terminal again and continues
// the command. As PID 1 there is no shell to go back to, and PID 1 cannot
// stop itself: the command is continued at once. Without a terminal, a stop
// is the command's business (as with tini).
func (s *supervisor) stopped() {
	if s.relay == nil && s.term < 0 {
		return
	}
	if !s.pid1 {
		s.leave()
		// Returns once continued, or at once when the kernel discards the
		// stop (an orphaned process group).
		raise(unix.SIGTSTP)
		s.enter()
	}
	unix.Kill(-s.pid, unix.SIGCONT)
}

// leave restores the caller's terminal: its modes, its foreground.
func (s *supervisor) leave() {
	if s.relay != nil {
		s.relay.leave()
	}
	if s.term >= 0 {
		if pg, err := tty.ForegroundGroup(s.term); err == nil && pg == s.pid {
			tty.SetForeground(s.term, unix.Getpgrp())
		}
	}
}

// enter takes the terminal again after a stop, if gosu's job is in the
// foreground.
func (s *supervisor) enter() {
	if s.relay != nil {
		s.relay.enter()
	}
	if s.term >= 0 && tty.Foreground(s.term) {
		tty.SetForeground(s.term, s.pid)
	}
}

// sigaction holds the kernel's struct sigaction for rt_sigaction(2). Its
// fields are never read: raise sets the default action (all zeros, the
// same in every architecture's layout) and puts back what it read, byte
// for byte. So only its size matters, which is at least the kernel's on
// every architecture Go supports (mips orders the fields differently and
// has a 16-byte mask: 4+4+8+16 bytes on mips64).
type sigaction struct {
	handler  uintptr
	flags    uintptr
	restorer uintptr
	mask     [2]uint64
}

func rtSigaction(sig syscall.Signal, act, old *sigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), sigsetSize, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// raise delivers sig to the calling thread with the default action, which
// Go's os/signal cannot give back for SIGTSTP (its handler stays and
// ignores it) or SIGQUIT (a goroutine dump and exit 2): SIGTSTP stops gosu
// until SIGCONT, SIGINT and SIGQUIT end it so that the shell sees it. The
// handler is put back when the thread runs again.
func raise(sig syscall.Signal) {
	runtime.LockOSThread()
	var dfl, old sigaction
	if rtSigaction(sig, &dfl, &old) == nil {
		var set unix.Sigset_t
		set.Val[0] = 1 << (sig - 1)
		unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
		unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
		rtSigaction(sig, &old, nil)
	}
	runtime.UnlockOSThread()
}
