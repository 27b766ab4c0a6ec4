package supervise

import (
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How long the relay goes on after the command exited: until no output came
// for drainIdle, and never longer than drainMax, so that a process left
// behind that keeps writing cannot keep gosu (and the caller's terminal in
// raw mode) forever. killWait bounds the wait for SIGKILLed leftovers;
// rescan is how often the leftovers are listed again meanwhile.
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

// supervisor is the loop that Resume runs, in the shape of tini's: wait
// for a signal (or relay I/O, or a deadline), handle it, collect children,
// move on. There is no goroutine blocked in wait4 and no timer: deadlines
// are poll(2) timeouts.
type supervisor struct {
	st       state
	name     string
	pid      int  // the child; also its process group
	self     int  // this process, whose own signals are not forwarded
	reapAll  bool // wait for every child: the init, or PID 1
	pid1     bool
	children bool // waitid said children remain
	exited   bool // the command was reaped: its PID is no longer ours to signal
	more     bool // reap stopped with children still to collect
	execed   bool // the child has exec'd the command (the gate closed)
	hurry    bool // asked to end after the command exited
	ws       unix.WaitStatus

	term  int // the terminal whose foreground the command got, or -1
	relay *relay
	gate  int // the parent's end of the gate, until the command's exec closes it
	pidfd int // the command's pidfd until it exits, or -1

	sigs       chan os.Signal
	sigR, sigW int    // the self-pipe os/signal's goroutine writes to
	sigfd      int    // the signalfd of every signal blocked on all threads
	held       uint64 // signals from the self-pipe waiting for the command's exec (bit N-1)

	phase    phase
	deadline time.Time
	// termed has a bit for each leftover already sent SIGTERM, by PID
	// (at most 2^22, PID_MAX_LIMIT); allocated when first needed, and only
	// the pages of the PIDs in use are ever touched.
	termed []uint64
	pids   []int  // the last listing of children
	buf    []byte // for reading /proc
	// childrenFile lists the main thread's children.
	childrenFile string
}

func newSupervisor(st state, name string) *supervisor {
	s := &supervisor{st: st, name: name, pid: st.pid, self: unix.Getpid(), term: st.initTerm, gate: st.gate,
		pidfd: st.pidfd, sigR: -1, sigW: -1, sigfd: -1}
	s.pid1 = s.self == 1
	s.childrenFile = "/proc/self/task/" + strconv.Itoa(s.self) + "/children"
	s.reapAll = st.flags&flagInit != 0 || s.pid1
	if st.master >= 0 {
		s.relay = newRelay(st.master, st.relayTerm, st.relayOut, st.flags&flagRelayIn != 0)
	}
	return s
}

// loop is tini's main loop.
func (s *supervisor) loop() {
	var pfds []unix.PollFd
	for s.phase != done {
		pfds = append(pfds[:0], unix.PollFd{Fd: int32(s.sigR), Events: unix.POLLIN})
		gate, sigfd, pidfd := -1, -1, -1
		if s.pidfd >= 0 {
			pidfd = len(pfds)
			pfds = append(pfds, unix.PollFd{Fd: int32(s.pidfd), Events: unix.POLLIN})
		}
		if s.gate >= 0 {
			// No event asked: POLLERR comes when the read end is closed.
			gate = len(pfds)
			pfds = append(pfds, unix.PollFd{Fd: int32(s.gate)})
		} else {
			// Until the command's exec the kernel holds these, so that
			// none reaches the gosu before it.
			sigfd = len(pfds)
			pfds = append(pfds, unix.PollFd{Fd: int32(s.sigfd), Events: unix.POLLIN})
		}
		if s.relay != nil {
			pfds = s.relay.pollFds(pfds, s.exited)
		}
		_, err := unix.Poll(pfds, s.timeout(time.Now()))
		if err != nil && err != unix.EINTR {
			message(s.name, "waiting for events: "+err.Error())
			s.phase = done
			break
		}
		if gate >= 0 && pfds[gate].Revents != 0 {
			// The gate's read end is closed: the child has exec'd the
			// command (or exited), and the signals held until then go.
			unix.Close(s.gate)
			s.gate, s.execed = -1, true
			for n := 1; s.held != 0; n++ {
				if s.held&1 != 0 {
					s.signal(sigOf(n))
				}
				s.held >>= 1
			}
		}
		if err == nil && s.relay != nil {
			s.relay.io(pfds, time.Now())
		}
		if exit := pidfd >= 0 && pfds[pidfd].Revents != 0; exit || s.more {
			s.reap()
			if exit && !s.exited && !s.more && s.pidfd >= 0 {
				// The command exited, but a tracer (one of its own
				// processes may ptrace it) holds the zombie: the pidfd
				// stays readable, and polled it would spin the loop until
				// then. The SIGCHLD of the release reports the exit.
				unix.Close(s.pidfd)
				s.pidfd = -1
			}
		}
		s.runtimeSignals()
		if sigfd >= 0 && pfds[sigfd].Revents != 0 {
			s.blockedSignals()
		}
		s.advance(time.Now())
	}
}

// timeout is poll's timeout in milliseconds: until the next deadline.
func (s *supervisor) timeout(now time.Time) int {
	if s.more {
		return 0
	}
	var d time.Duration
	switch s.phase {
	case grace, killing:
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
			if s.st.flags&flagInit == 0 || !s.children {
				s.drain(now)
				continue
			}
			if s.st.graceMS <= 0 {
				s.kill(now)
				continue
			}
			s.leftovers(unix.SIGTERM)
			s.phase, s.deadline = grace, now.Add(s.st.grace())
		case grace:
			if !s.children {
				s.drain(now)
				continue
			}
			if now.Before(s.deadline) {
				if !s.pid1 {
					// Orphans that arrived since. (As PID 1, kill(-1)
					// reached everyone once: another SIGTERM every 50 ms
					// ends a program whose first one started a graceful
					// exit and restored the default action, as Go's
					// signal.NotifyContext advises.)
					s.leftovers(unix.SIGTERM)
				}
				return
			}
			// In milliseconds: strconv.FormatFloat would cost 7 KB of the
			// binary's size budget for this one line.
			message(s.name, "--init: processes left by the command were still running "+
				strconv.Itoa(s.st.graceMS)+" ms after SIGTERM; sending SIGKILL")
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
// else in the PID namespace (kill(-1)). As a subreaper it is gosu's own
// children, listed from /proc and signalled one by one; the command's
// process group already got its signal while the command was a zombie
// (reap). A listed child cannot be replaced by another process before it
// is signalled: one that exits stays a zombie, its PID held, until reap
// collects it, and reap never runs between listing and kill. SIGTERM goes
// to each child once, and the listing is repeated until it shows none new
// (orphans are reparented while it is read); their own children follow as
// they are orphaned in turn.
func (s *supervisor) leftovers(sig unix.Signal) {
	if s.pid1 {
		unix.Kill(-1, sig)
		return
	}
	for {
		fresh := false
		for _, pid := range s.listChildren() {
			if sig == unix.SIGTERM {
				if s.termed == nil {
					s.termed = make([]uint64, 1<<22/64)
				}
				if p := uint(pid); s.termed[p/64]&(1<<(p%64)) == 0 {
					s.termed[p/64] |= 1 << (p % 64)
				} else {
					continue
				}
			}
			fresh = true
			unix.Kill(pid, sig)
		}
		if !fresh || sig != unix.SIGTERM {
			return
		}
	}
}

// listChildren lists gosu's children from /proc/self/task/PID/children,
// read to its end: thousands of children are more than one read returns.
// All of them are the main thread's: the command was forked from it, and
// the kernel gives orphans to the first live thread of a subreaper
// (find_alive_thread), which is the main thread while the process lives.
// Without /proc the list is empty.
func (s *supervisor) listChildren() []int {
	fd, err := unix.Open(s.childrenFile, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	n := 0
	for {
		if n == len(s.buf) {
			s.buf = append(s.buf, make([]byte, n+16<<10)...)
		}
		m, err := unix.Read(fd, s.buf[n:])
		if m <= 0 && err != unix.EINTR {
			break
		}
		n += max(m, 0)
	}
	unix.Close(fd)
	s.pids = appendPIDs(s.pids[:0], s.buf[:n])
	return s.pids
}

// appendPIDs appends the space-separated decimal PIDs of a children file.
func appendPIDs(pids []int, b []byte) []int {
	pid, digits := 0, false
	for _, c := range b {
		if c >= '0' && c <= '9' {
			pid, digits = pid*10+int(c-'0'), true
			continue
		}
		if digits {
			pids = append(pids, pid)
		}
		pid, digits = 0, false
	}
	if digits {
		pids = append(pids, pid)
	}
	return pids
}

// reap collects children: only the command, or, for the init (and PID 1),
// everyone; stops of the command are reported too. Each child is looked at
// first without collecting it (WNOWAIT): the command, once exited, stays a
// zombie until its process group has had the init's signal, since only
// while it is unreaped can no other process get its PID, which is also the
// group's id.
func (s *supervisor) reap() {
	idType, id := unix.P_ALL, 0
	if !s.reapAll {
		idType, id = unix.P_PID, s.pid
	}
	s.more = false
	for n := 0; ; n++ {
		var si unix.Siginfo
		err := unix.Waitid(idType, id, &si, unix.WEXITED|unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil: // ECHILD
			s.children = false
			return
		case si.Signo == 0:
			s.children = true
			return
		case n == 256:
			// Orphans that fork and exit as fast as they are collected
			// would keep this loop going for good (runtimeSignals). The
			// loop comes back at once (more).
			s.children, s.more = true, true
			return
		}
		pid := chldPID(&si)
		if si.Code == cldTrapped || si.Code == cldStopped {
			// Collect the report of the stop alone: an exit in between
			// stays to be seen.
			unix.Waitid(unix.P_PID, pid, &si, unix.WSTOPPED|unix.WNOHANG|unix.WALL, nil)
			if pid == s.pid && !s.exited {
				s.stopped()
			}
			continue
		}
		if pid == s.pid && s.st.flags&flagInit != 0 && !s.pid1 {
			sig := unix.SIGTERM
			if s.st.graceMS <= 0 {
				sig = unix.SIGKILL
			}
			unix.Kill(-s.pid, sig)
		}
		var ws unix.WaitStatus
		if r, _ := unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil); r != pid {
			s.children = true // cannot happen to a zombie; never spin on it
			return
		}
		if pid == s.pid {
			s.exited, s.ws = true, ws
			if s.pidfd >= 0 {
				unix.Close(s.pidfd)
				s.pidfd = -1
			}
		} else if s.termed != nil {
			s.termed[uint(pid)/64] &^= 1 << (uint(pid) % 64)
		}
	}
}

// si_code values of SIGCHLD (include/uapi/asm-generic/siginfo.h).
const (
	cldTrapped = 4
	cldStopped = 5
)

// chldPID is si_pid of a SIGCHLD siginfo: the first field of the union that
// follows three ints, at the next pointer-aligned offset (16 on 64-bit
// architectures, 12 on 32-bit ones; mips swaps si_code and si_errno, not
// the union's place).
func chldPID(si *unix.Siginfo) int {
	const ptr = unsafe.Sizeof(uintptr(0))
	const off = (12 + ptr - 1) &^ (ptr - 1)
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(si), off)))
}

// finish gives the terminal back, hangs up the pseudo-terminal, and
// returns the status to exit with: the command's code, 128+N for signal N,
// or 0 for a code in --init-success. For an interrupt from the terminal it
// re-raises it.
func (s *supervisor) finish() int {
	if r := s.relay; r != nil {
		// Closing the master hangs up the pseudo-terminal: what the
		// command left behind gets SIGHUP and EIO, and no longer holds
		// gosu.
		r.leave()
		r.p.Close()
	}
	if s.term >= 0 {
		s.leave()
	}
	status := s.ws.ExitStatus()
	if s.ws.Signaled() {
		status = 128 + int(s.ws.Signal())
	}
	status &= 0xff
	if s.st.succeeds(status) {
		status = 0
	}
	if s.ws.Signaled() && status != 0 && (s.relay != nil || s.term >= 0) && !s.pid1 {
		if sig := s.ws.Signal(); sig == unix.SIGINT || sig == unix.SIGQUIT {
			raise(sig)
		}
	}
	return status
}
