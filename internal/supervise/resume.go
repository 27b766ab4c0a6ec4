package supervise

import (
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// ResumeOption carries the state from Run to the image it execs, which
// calls Resume; SyncOption gives the child the descriptor of its gate.
// Both are for gosu's own use, as the first word after argv[0].
const (
	ResumeOption = "supervise"
	SyncOption   = "sync-fd"
)

// Flags of the state.
const (
	flagInit    = 1 << iota // --init
	flagGroup               // --init-pgroup
	flagRelayIn             // --pty with stdin a terminal, relayed in raw mode
)

// state is what Run hands to Resume, as decimal numbers in argv.
type state struct {
	pid       int // the child
	pidfd     int // the child's pidfd, or -1 (Linux before 5.3)
	gate      int // the parent's end of the gate
	master    int // the pty master (--pty), or -1
	relayTerm int // the terminal whose window size the pty follows (--pty), or -1
	relayOut  int // where the command's terminal output goes (--pty), or -1
	initTerm  int // the terminal whose foreground the command got (--init), or -1
	flags     int
	graceMS   int
	success   []int // exit statuses reported as 0
}

// fields lists the fixed fields in their order in argv: encode and decode
// both read this one list.
func (st *state) fields() []*int {
	return []*int{&st.pid, &st.pidfd, &st.gate, &st.master, &st.relayTerm, &st.relayOut, &st.initTerm, &st.flags, &st.graceMS}
}

func (st *state) encode() string {
	var b []byte
	for i, f := range st.fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(*f), 10)
	}
	for _, s := range st.success {
		b = strconv.AppendInt(append(b, ','), int64(s), 10)
	}
	return string(b)
}

func decode(s string) (state, bool) {
	var st state
	fields := st.fields()
	i := 0
	for more := true; more; i++ {
		var w string
		w, s, more = strings.Cut(s, ",")
		n, err := strconv.Atoi(w)
		if err != nil || n < -1 {
			return st, false
		}
		if i < len(fields) {
			*fields[i] = n
		} else {
			st.success = append(st.success, n)
		}
	}
	return st, i >= len(fields) && st.pid > 0 && st.gate > 2
}

// Resume is the supervisor that Run execs: args are its argv, the state in
// args[1]. It returns the status to exit with.
func Resume(args []string) int {
	runtime.LockOSThread()
	name := "gosu"
	if len(args) > 0 && args[0] != "" {
		name = filepath.Base(args[0])
	}
	st, ok := state{}, false
	if len(args) == 2 {
		st, ok = decode(strings.TrimPrefix(args[1], "--"+ResumeOption+"="))
	}
	// The child must be this process's own: waitid answers ECHILD for
	// any other.
	var si unix.Siginfo
	if !ok || unix.Waitid(unix.P_PID, st.pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) != nil {
		message(name, "--"+ResumeOption+" is for gosu's own use")
		return 1
	}
	setComm(name)
	// Descriptors 0 to 2 that gosu was started without get /dev/null, so
	// that none of the supervisor's own (the self-pipe, where a message
	// to fd 2 would read as signals) takes their numbers.
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			unix.Open("/dev/null", unix.O_RDWR, 0)
		}
	}
	s := newSupervisor(st, name)
	if err := s.listen(); err != nil {
		// Closing the gate, by exiting, ends the child before its exec.
		s.message("--" + s.option() + ": " + err.Error())
		return 1
	}
	s.open()
	s.catchChildren()
	if s.relay != nil {
		if err := s.relay.begin(); err != nil {
			s.message("--pty: " + err.Error())
			unix.Kill(s.pid, unix.SIGKILL) // not reaped yet: still ours
			unix.Wait4(s.pid, nil, 0, nil)
			s.relay.end()
			return 1
		}
	}
	s.loop()
	return s.finish()
}

// openGate makes the gate between the parent and the child: a socket pair,
// the parent's end close-on-exec, the child's end not, numbered above every
// descriptor the child is to keep.
//
// The parent opens it (one byte) once it catches every signal, and the child
// waits for that before it switches and execs the command, so the command
// never exists while a signal could be lost. The child then marks its end
// close-on-exec, so the command's exec closes it and the parent, reading
// end-of-file, knows that signals it forwards from then on reach the
// command rather than the gosu before it.
func openGate(keep []int) ([2]int, error) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return p, errs.Wrap("creating the gate to the child", err)
	}
	low := 3
	for _, fd := range keep {
		low = max(low, fd+1)
	}
	if p[0], err = moveAbove(p[0], 3, unix.F_DUPFD_CLOEXEC); err == nil {
		p[1], err = moveAbove(p[1], low, unix.F_DUPFD)
	}
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return p, errs.Wrap("creating the gate to the child", err)
	}
	return p, nil
}

// moveAbove gives fd a number of at least low (fcntl op F_DUPFD, which
// clears close-on-exec, or F_DUPFD_CLOEXEC) and closes the old one, unless
// it is there already and op keeps its flags. Descriptors 0 to 2 may be
// closed when gosu starts: the parent's own must never take their numbers,
// which the child is given as its stdio.
func moveAbove(fd, low, op int) (int, error) {
	if fd >= low && op == unix.F_DUPFD_CLOEXEC {
		return fd, nil
	}
	nfd, err := unix.FcntlInt(uintptr(fd), op, low)
	unix.Close(fd)
	return nfd, err
}

// open lets the child go on. A child that is already gone is no error here:
// its exit reaches the loop.
func (s *supervisor) open() {
	for {
		err := unix.Sendto(s.gate, []byte{'g'}, unix.MSG_NOSIGNAL, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// TakeSync removes the gate's word that Run puts after argv[0] and returns
// the rest and the gate's descriptor, or args and -1 when there is none.
func TakeSync(args []string) ([]string, int, error) {
	if len(args) < 2 || !strings.HasPrefix(args[1], "--"+SyncOption+"=") {
		return args, -1, nil
	}
	fd, err := strconv.Atoi(args[1][len(SyncOption)+3:])
	if err != nil || fd < 3 {
		return args, -1, errors.New("--" + SyncOption + " is for gosu's own use")
	}
	return append([]string{args[0]}, args[2:]...), fd, nil
}

// AwaitParent is the child's side of the gate: it waits until the parent
// catches every signal, then marks the gate close-on-exec, so that the
// exec of the command tells the parent it exists.
func AwaitParent(fd int) error {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if n != 1 {
			if err == nil {
				err = syscall.EPIPE
			}
			return errs.Explain("the supervising parent exited before the command started", err)
		}
		break
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return errs.Wrap("closing the gate at exec", err)
	}
	return nil
}

// setComm names this process after gosu again (/proc/PID/comm, what ps
// and top show): exec'd as /proc/self/exe, it is called "exe".
func setComm(name string) {
	var comm [16]byte
	copy(comm[:15], name)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&comm[0])), 0, 0, 0)
}

func message(name, msg string) {
	unix.Write(2, []byte(name+": "+msg+"\n"))
}

// grace is the state's grace period.
func (st *state) grace() time.Duration { return time.Duration(st.graceMS) * time.Millisecond }
