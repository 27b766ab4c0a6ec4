package supervise

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/tty"
)

// forwarded reports whether the parent forwards sig. Every signal that can
// be caught is, except:
//   - SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: the parent's own
//     faults (tini keeps these too);
//   - SIGURG: Go's runtime preempts goroutines with it, so a forwarded
//     SIGURG could be the runtime's own. A real SIGURG (out-of-band socket
//     data; ignored by default) is not forwarded;
//   - SIGPROF: the runtime's profiler takes it and never hands it on;
//   - 32, 33 and 34: C libraries' internal signals (glibc's 32 and 33, Go's
//     33 for AllThreadsSyscall, musl's 34), which Go's runtime neither lets
//     be blocked nor lets os/signal catch. The parent ignores 32 and 34,
//     which would otherwise end it.
func forwarded(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP,
		unix.SIGSYS, unix.SIGURG, unix.SIGPROF, 32, 33, 34:
		return false
	}
	return sig >= 1 && int(sig) <= nsig
}

func sigOf(n int) syscall.Signal { return syscall.Signal(n) }

// sigAdd and sigHas work on the kernel's sigset_t: an array of unsigned
// longs, signal N at bit N-1.
func sigAdd(set *unix.Sigset_t, n int) {
	w := int(unsafe.Sizeof(set.Val[0]) * 8)
	set.Val[(n-1)/w] |= 1 << ((n - 1) % w)
}

func sigHas(set *unix.Sigset_t, n int) bool {
	w := int(unsafe.Sizeof(set.Val[0]) * 8)
	return set.Val[(n-1)/w]&(1<<((n-1)%w)) != 0
}

// listen catches every forwarded signal before the gate opens. The image
// started with every signal blocked; what the runtime left blocked on this
// thread is blocked on all its threads, present and future (each starts
// with that mask, less the same signals the runtime unblocks here), so a
// signalfd reads those, with real-time signals queued one entry per
// signal. The rest (HUP, INT, QUIT, ABRT, TERM, STKFLT, CHLD with Go 1.27)
// go through os/signal: its goroutine writes each as one byte to a
// non-blocking self-pipe that the loop polls.
//
// SIGTTIN and SIGTTOU stay blocked for the --pty relay too, which the
// kernel then never stops for touching the terminal from the background:
// the relay reads the terminal only in the foreground (relay.pollFds) and
// changes its modes only there (MayChange), and its output goes on in the
// background as if TOSTOP were off. A job stopped in a read or a write is
// restarted into the same stop at every SIGCONT, and would never act on the
// SIGTERM it caught meanwhile.
func (s *supervisor) listen() error {
	var mask unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &mask); err != nil {
		return errs.Wrap("reading the signal mask", err)
	}
	var blocked unix.Sigset_t
	var caught []os.Signal
	for n := 1; n <= nsig; n++ {
		sig := sigOf(n)
		switch {
		case !forwarded(sig):
		case sigHas(&mask, n):
			sigAdd(&blocked, n)
		case sig == unix.SIGCHLD:
			// Caught once the gate is open (Resume): the command's exit
			// is seen on its pidfd, and a SIGCHLD the runtime drops before
			// then only means a reap pass to make up for it.
		default:
			caught = append(caught, sig)
		}
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return errs.Wrap("creating a pipe", err)
	}
	s.sigR, s.sigW = p[0], p[1]
	s.sigs = make(chan os.Signal, 32)
	signal.Notify(s.sigs, caught...)
	go pump(s.sigs, s.sigW)
	fd, _, errno := unix.RawSyscall6(unix.SYS_SIGNALFD4, ^uintptr(0), uintptr(unsafe.Pointer(&blocked)), sigsetSize,
		unix.SFD_CLOEXEC|unix.SFD_NONBLOCK, 0, 0)
	if errno != 0 {
		return errs.Wrap("creating a signalfd", errno)
	}
	s.sigfd = int(fd)
	ignore(32)
	ignore(34)
	return nil
}

// pump writes each signal from sigs to the self-pipe w as a byte.
// Non-blocking: with 64 KiB of signals unread, more are lost rather than
// this goroutine stuck.
func pump(sigs <-chan os.Signal, w int) {
	var b [1]byte
	for sig := range sigs {
		b[0] = byte(sig.(syscall.Signal))
		unix.Write(w, b[:])
	}
}

// runtimeSignals handles the signals waiting in the self-pipe, in order,
// one read's worth a call (poll sees what is left): SIGCHLD with one reap
// pass for them all, the others once the command has exec'd. (Orphans that
// fork and exit as fast as they are collected kept a SIGCHLD in the pipe,
// and a loop that read until the pipe was empty going for good: no other
// signal forwarded, no deadline seen.)
func (s *supervisor) runtimeSignals() {
	var buf [128]byte
	n, _ := unix.Read(s.sigR, buf[:])
	chld := false
	for _, b := range buf[:max(n, 0)] {
		switch sig := sigOf(int(b)); {
		case sig == unix.SIGCHLD:
			chld = true
		case s.execed:
			s.signal(sig)
		default:
			s.held |= 1 << (sig - 1)
		}
	}
	if chld {
		s.reap()
	}
}

// blockedSignals handles what the signalfd has, in the kernel's order.
// Signals this process sent itself (SIGPIPE from a write to a closed pipe,
// a stop it raised) are its own, not the command's.
func (s *supervisor) blockedSignals() {
	// struct signalfd_siginfo: 128 bytes, ssi_signo (uint32) first and
	// ssi_pid (uint32) at byte 12, in the machine's byte order.
	var buf [16 * 128]byte
	for {
		n, _ := unix.Read(s.sigfd, buf[:])
		for i := 0; i+128 <= n; i += 128 {
			if pid := *(*uint32)(unsafe.Pointer(&buf[i+12])); int(pid) != s.self {
				s.signal(sigOf(int(*(*uint32)(unsafe.Pointer(&buf[i])))))
			}
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
	case s.relay != nil && (sig == unix.SIGTTIN || sig == unix.SIGTTOU):
		// Job control for the relay's own use of the terminal, which it
		// never stops for (listen); the command has a terminal of its own.
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
// Only before the command is reaped: until then no other process can have
// its PID, which is also its group's id.
func (s *supervisor) forward(sig syscall.Signal) {
	if s.exited {
		return
	}
	target := s.pid
	if s.st.flags&flagGroup != 0 {
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

func rtSigaction(sig syscall.Signal, act, old *sigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), sigsetSize, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ignore sets sig's action to SIG_IGN.
func ignore(sig syscall.Signal) {
	var act sigaction
	act.handler = 1 // SIG_IGN
	rtSigaction(sig, &act, nil)
}

// raise delivers sig to the calling thread with the default action, which
// Go's os/signal cannot give back for SIGQUIT (a goroutine dump and exit
// 2): SIGTSTP stops gosu until SIGCONT, SIGINT and SIGQUIT end it so that
// the shell sees it. The handler and the signal mask are put back when the
// thread runs again.
func raise(sig syscall.Signal) {
	runtime.LockOSThread()
	var dfl, old sigaction
	if rtSigaction(sig, &dfl, &old) == nil {
		var set, mask unix.Sigset_t
		sigAdd(&set, int(sig))
		unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, &mask)
		unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
		unix.PthreadSigmask(unix.SIG_SETMASK, &mask, nil)
		rtSigaction(sig, &old, nil)
	}
	runtime.UnlockOSThread()
}
