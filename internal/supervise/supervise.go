// Package supervise is gosu's one supervising parent: the init of --init
// (tini and gosu in one binary), the relay of --pty, and the keeper of the
// terminal when --detach-tty runs in a process that leads its session.
//
// In each case the parent starts a fresh gosu (which switches and execs the
// command), keeps the least it needs, and runs one event loop in the shape
// of tini's: signals arrive through one os/signal channel, which a goroutine
// turns into bytes on a self-pipe; the loop waits with poll(2) on that pipe
// (and, for --pty, on stdin and the pseudo-terminal's master); SIGCHLD
// makes it collect children with wait4(WNOHANG); every other signal is
// forwarded. There is no goroutine blocked in wait4 and no timer: deadlines
// (the grace period, the end of the relay) are poll timeouts.
package supervise

import (
	"errors"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/drop"
	"gosu/internal/tty"
)

// Config says what to start and how to supervise it.
type Config struct {
	Path       string // the fresh gosu child to start
	Argv, Env  []string
	PTY        bool    // run the child on a new pty, relaying those of stdin/out/err that are terminals (Terms)
	PTYOwner   uint32  // the new pty's owner (mode 0620)
	Terms      [3]bool // which of stdin, stdout, stderr are terminals (Terminals)
	NewSession bool    // start the child in a new session without a controlling terminal
	Init       bool    // reap everything, subreaper, forward every signal, TERM+grace+KILL leftovers
	Group      bool    // forward signals to the child's process group (tini -g)
	Success    []int   // exit statuses reported as 0 (tini -e)
	// Grace is how long processes left when the command exits get between
	// SIGTERM and SIGKILL (Init only); 0 sends SIGKILL at once.
	Grace             time.Duration
	ParentDeathSignal syscall.Signal // also for this parent, which passes it on
	Parent            int            // the parent's PID when gosu started, for ParentDeathSignal
	Name              string         // program name for messages
}

// Terminals says which of stdin, stdout and stderr are terminals.
func Terminals() [3]bool {
	return [3]bool{tty.IsTerminal(0), tty.IsTerminal(1), tty.IsTerminal(2)}
}

// How long the relay goes on after the command exited: until no output came
// for drainIdle, and never longer than drainMax, so that a process left
// behind that keeps writing cannot keep gosu (and the caller's terminal in
// raw mode) forever. killWait bounds the wait for SIGKILLed leftovers.
const (
	drainIdle = 100 * time.Millisecond
	drainMax  = 500 * time.Millisecond
	killWait  = 2 * time.Second
	rescan    = 50 * time.Millisecond
)

type phase int

const (
	running  phase = iota // the command runs
	grace                 // it exited; what it left got SIGTERM
	killing               // the grace period ended; what is left got SIGKILL
	draining              // relaying the last output
	done
)

type supervisor struct {
	c        Config
	pid      int  // the child; also its process group
	reapAll  bool // wait4(-1): the init, or PID 1
	pid1     bool
	children bool // wait4 said children remain
	reaped   bool // a child other than the command was collected
	exited   bool
	hurry    bool // asked to end after the command exited
	ws       unix.WaitStatus

	term  int // the terminal whose foreground the command got, or -1
	relay *relay

	sigs     chan os.Signal
	sigR     int
	sigW     int
	sigDone  chan struct{}
	pending  []byte // signals read from the pipe, in order
	phase    phase
	deadline time.Time
	termed   []int // leftovers already sent SIGTERM
}

// Run starts the child and supervises it until it is done, and returns the
// status to exit with: the command's exit code, or 128+N when signal N ended
// it, or 0 for a status in c.Success. err is set only when the child could
// not be started. When the command was interrupted from the terminal
// (SIGINT or SIGQUIT) under --pty or an init that gave it the terminal, Run
// restores the terminal and ends gosu with the same signal, as sudo does,
// so that a calling shell stops its loop; it returns only if that fails.
func Run(c Config) (int, error) {
	// Every change to this thread's signal mask and every fork below must
	// happen on one thread.
	runtime.LockOSThread()
	s := &supervisor{c: c, term: -1, pid1: unix.Getpid() == 1}
	s.reapAll = c.Init || s.pid1
	status, err := 0, s.start()
	if err != nil {
		s.stop()
		err = errors.New(s.option() + ": " + err.Error())
	} else {
		s.loop()
		status = s.finish()
	}
	runtime.UnlockOSThread()
	return status, err
}

func (s *supervisor) option() string {
	switch {
	case s.c.Init:
		return "--init"
	case s.c.PTY:
		return "--pty"
	}
	return "--detach-tty"
}

// start prepares everything that needs privilege, starts the child, then
// gives up what the parent does not need.
func (s *supervisor) start() error {
	var attr syscall.SysProcAttr
	files := []uintptr{0, 1, 2}
	if s.c.PTY {
		r, err := openRelay(s.c.PTYOwner, s.c.Terms)
		if err != nil {
			return err
		}
		s.relay = r
		attr.Setsid, attr.Setctty, attr.Ctty = true, true, -1
		for fd, isTerm := range s.c.Terms {
			if isTerm {
				files[fd] = uintptr(r.p.Slave)
				if attr.Ctty < 0 {
					attr.Ctty = fd
				}
			}
		}
	} else if s.c.NewSession {
		attr.Setsid = true
	} else {
		// tini's isolate_child: a process group of its own, and the
		// terminal's foreground if gosu has it, so that Ctrl-C and Ctrl-Z
		// reach the command and not the init. Unlike tini, never take the
		// foreground from another job.
		attr.Setpgid = true
		for fd := 0; fd <= 2 && s.c.Init; fd++ {
			if tty.Foreground(fd) {
				s.term, attr.Foreground, attr.Ctty = fd, true, fd
				break
			}
		}
	}
	if s.c.Init && !s.pid1 {
		// Orphans of the command's tree become children of the init, which
		// reaps them, instead of going to the real init.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return errors.New("becoming a child subreaper: " + err.Error())
		}
	}
	if err := drop.ParentDeathSignal(s.c.ParentDeathSignal, s.c.Parent); err != nil {
		return errors.New("--pdeathsig: " + err.Error())
	}
	if err := s.listen(); err != nil {
		return err
	}

	// Forked from this locked thread, the child gets the signal mask gosu
	// started with; the runtime resets the handlers it installed.
	pa := &syscall.ProcAttr{Env: s.c.Env, Files: files, Sys: &attr}
	pid, err := syscall.ForkExec(s.c.Path, s.c.Argv, pa)
	if err != nil && attr.Foreground {
		// The terminal's foreground changed since it was checked.
		attr.Foreground, s.term = false, -1
		pid, err = syscall.ForkExec(s.c.Path, s.c.Argv, pa)
	}
	if err != nil {
		return errors.New("starting gosu again as " + s.c.Path + ": " + err.Error())
	}
	s.pid = pid
	if s.relay != nil {
		s.relay.p.CloseSlave()
	}
	// Once the child runs, the parent keeps only what it needs: no
	// inherited descriptor, no capability but CAP_KILL, no_new_privs.
	closeInherited()
	if err = dropPrivileges(); err != nil {
		err = errors.New("dropping the parent's privileges: " + err.Error())
	} else if s.relay != nil {
		err = s.relay.begin()
	} else if s.c.Init {
		// As tini: the init never stops for touching the terminal from the
		// background. Ignored only now, as ignored signals survive exec and
		// the child must not start with them ignored.
		signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
	}
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
	}
	return err
}

// loop is tini's main loop: wait for a signal (or relay I/O, or a deadline),
// handle it, collect children, move on.
func (s *supervisor) loop() {
	var fds []unix.PollFd
	for s.phase != done {
		fds = append(fds[:0], unix.PollFd{Fd: int32(s.sigR), Events: unix.POLLIN})
		if s.relay != nil {
			fds = s.relay.pollFds(fds, s.exited)
		}
		_, err := unix.Poll(fds, s.timeout(time.Now()))
		if err != nil && err != unix.EINTR {
			s.message("waiting for events: " + err.Error())
			s.phase = done
			break
		}
		if err == nil && s.relay != nil {
			s.relay.io(fds, time.Now())
		}
		s.signals()
		s.advance(time.Now())
	}
}

// timeout is poll's timeout in milliseconds: until the next deadline.
func (s *supervisor) timeout(now time.Time) int {
	var d time.Duration
	switch s.phase {
	case grace:
		d = s.deadline.Sub(now)
	case killing:
		d = min(s.deadline.Sub(now), rescan)
	case draining:
		d = min(s.relay.last.Add(drainIdle).Sub(now), s.relay.stop.Sub(now))
	default:
		return -1
	}
	return int(max(d, 0)+time.Millisecond-1) / int(time.Millisecond)
}

// advance moves through the phases once the command has exited.
func (s *supervisor) advance(now time.Time) {
	for {
		switch s.phase {
		case running:
			if !s.exited {
				return
			}
			if !s.c.Init || !s.children {
				s.drain(now)
				continue
			}
			if s.c.Grace <= 0 {
				s.kill(now)
				continue
			}
			s.leftovers(unix.SIGTERM)
			s.phase, s.deadline = grace, now.Add(s.c.Grace)
		case grace:
			if !s.children {
				s.drain(now)
				continue
			}
			if now.Before(s.deadline) {
				if s.reaped {
					s.leftovers(unix.SIGTERM) // orphans that arrived since
				}
				return
			}
			// In milliseconds: strconv.FormatFloat would cost 7 KB of the
			// binary's size budget for this one line.
			s.message("--init: processes left by the command were still running " +
				strconv.FormatInt(s.c.Grace.Milliseconds(), 10) + " ms after SIGTERM; sending SIGKILL")
			s.kill(now)
		case killing:
			if !s.children || !now.Before(s.deadline) {
				s.drain(now)
				continue
			}
			s.leftovers(unix.SIGKILL)
			return
		case draining:
			if r := s.relay; r == nil || s.hurry || r.outDone || !now.Before(r.last.Add(drainIdle)) || !now.Before(r.stop) {
				s.phase = done
			}
			return
		default:
			return
		}
	}
}

func (s *supervisor) kill(now time.Time) {
	s.leftovers(unix.SIGKILL)
	s.phase, s.deadline = killing, now.Add(killWait)
}

func (s *supervisor) drain(now time.Time) {
	s.phase = draining
	if s.relay != nil {
		s.relay.drainFrom(now)
	}
}

// leftovers sends sig to what the command left. As PID 1 that is everyone
// else in the PID namespace (kill(-1)). As a subreaper it is what can be
// reached: the command's process group, and the orphans now parented to
// gosu (each one SIGTERM once); their own children follow as they are
// orphaned in turn.
func (s *supervisor) leftovers(sig unix.Signal) {
	s.reaped = false
	if s.pid1 {
		unix.Kill(-1, sig)
		return
	}
	unix.Kill(-s.pid, sig)
	for _, pid := range children() {
		if sig == unix.SIGTERM {
			if contains(s.termed, pid) {
				continue
			}
			s.termed = append(s.termed, pid)
		}
		unix.Kill(pid, sig)
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// reap collects children with WNOHANG: only the command, or, for the init
// (and PID 1), everyone. WUNTRACED reports the command stopping.
func (s *supervisor) reap() {
	target := s.pid
	if s.reapAll {
		target = -1
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(target, &ws, unix.WNOHANG|unix.WUNTRACED|unix.WALL, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil: // ECHILD
			s.children = false
			return
		case pid == 0:
			s.children = true
			return
		case pid != s.pid:
			s.reaped = true
		case ws.Stopped():
			s.stopped()
		case !s.exited:
			s.exited, s.ws = true, ws
		}
	}
}

// status is the exit status: the command's code, or 128+N for signal N.
func (s *supervisor) status() int {
	code := s.ws.ExitStatus()
	if s.ws.Signaled() {
		code = 128 + int(s.ws.Signal())
	}
	code &= 0xff
	for _, ok := range s.c.Success {
		if code == ok {
			return 0
		}
	}
	return code
}

// finish gives the terminal back, hangs up the pseudo-terminal, and
// returns the status; for an interrupt from the terminal it re-raises it.
func (s *supervisor) finish() int {
	if s.relay != nil {
		s.relay.end()
	}
	if s.term >= 0 {
		s.leave()
	}
	// Not s.stop(): gosu exits next, and os/signal's Stop would hand every
	// signal back to its mask thread one at a time (about 2 ms).
	if s.relay != nil {
		s.relay.p.Close()
	}
	status := s.status()
	if s.ws.Signaled() && status != 0 && (s.relay != nil || s.term >= 0) && !s.pid1 {
		if sig := s.ws.Signal(); sig == unix.SIGINT || sig == unix.SIGQUIT {
			raise(sig)
		}
	}
	return status
}

func (s *supervisor) message(msg string) {
	os.Stderr.WriteString(s.c.Name + ": " + msg + "\n")
}
