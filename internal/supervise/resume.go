package supervise

import (
	"errors"
	"os"
	"os/signal"
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

// ResumeOption names the descriptor the image Run execs reads its state
// from, which then calls Resume; SyncOption gives the child the descriptor
// of its gate. Both are for gosu's own use, as the first word after argv[0].
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

// state is what Run hands to Resume: the struct's bytes through a pipe,
// from one image of the same binary to the next, so that both read the one
// description below.
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
	success   [256 / 8]byte // exit statuses reported as 0, one bit each
}

func (st *state) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func (st *state) succeeds(code int) bool { return st.success[code/8]&(1<<(code%8)) != 0 }

// readState reads the state from the descriptor named in the first word.
func readState(args []string) (state, bool) {
	var st state
	fd := fdArg(args, ResumeOption)
	if len(args) != 2 || fd < 3 {
		return st, false
	}
	n, _ := unix.Read(fd, st.bytes())
	unix.Close(fd)
	return st, n == len(st.bytes()) && st.pid > 0 && st.gate > 2
}

// Resuming reports whether args are those of the image Run execs, which
// calls Resume.
func Resuming(args []string) bool {
	return len(args) > 1 && strings.HasPrefix(args[1], "--"+ResumeOption+"=")
}

// Resume is the supervisor that Run execs: args are its argv, the state in
// args[1]. It returns the status to exit with.
//
// It runs on the main thread, the one whose id is the PID: a signal sent to
// that thread alone (tgkill(PID, PID, sig), as tkill and pthread_kill
// senders do) stays pending for it, blocked as on every thread, and a
// signalfd read returns only the process's signals and the reading
// thread's own. Unlocked, the loop ran on another thread, and such signals
// never reached the command (TestInitSignalsToMainThread); tini, one
// thread, forwards them. setComm names only the calling thread, too, and
// the main thread's name is the process's. gosu's init locks main before
// Resume runs, as a blocking system call could hand the goroutine to
// another thread.
func Resume(args []string) int {
	runtime.LockOSThread()
	name := "gosu"
	if len(args) > 0 && args[0] != "" {
		name = filepath.Base(args[0])
	}
	st, ok := readState(args)
	// The child must be this process's own: waitid answers ECHILD for
	// any other.
	var si unix.Siginfo
	if !ok || unix.Waitid(unix.P_PID, st.pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) != nil {
		message(name, "--"+ResumeOption+" is for gosu's own use")
		return 1
	}
	setComm(name)
	s := newSupervisor(st, name)
	err := s.listen()
	if err == nil && s.relay != nil {
		err = s.relay.begin()
	}
	if err != nil {
		// Exiting closes the gate, which ends the child before its exec.
		message(name, "supervisor: "+err.Error())
		return 1
	}
	// Every signal is caught: the gate opens, and the child goes on to its
	// switch and exec. (A child already gone is no error here, and the
	// SIGPIPE is this process's own: its exit reaches the loop.) SIGCHLD
	// is caught only now (listen): a reap pass makes up for one the runtime
	// dropped before.
	unix.Write(s.gate, []byte{'g'})
	signal.Notify(s.sigs, unix.SIGCHLD)
	s.reap()
	s.loop()
	return s.finish()
}

// TakeSync removes the gate's word that Run puts after argv[0] and returns
// the rest and the gate's descriptor, or args and -1 when there is none.
func TakeSync(args []string) ([]string, int, error) {
	switch fd := fdArg(args, SyncOption); {
	case fd == -1:
		return args, -1, nil
	case fd < 3:
		return args, -1, errors.New("--" + SyncOption + " is for gosu's own use")
	default:
		args[1] = args[0]
		return args[1:], fd, nil
	}
}

// fdArg reads "--NAME=FD" in args[1]: -1 when it is not there, -2 when FD
// is not a number.
func fdArg(args []string, name string) int {
	if len(args) < 2 || !strings.HasPrefix(args[1], "--"+name+"=") {
		return -1
	}
	fd, err := strconv.Atoi(args[1][len(name)+3:])
	if err != nil || fd < 0 {
		return -2
	}
	return fd
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
	os.Stderr.WriteString(name + ": " + msg + "\n")
}

// grace is the state's grace period.
func (st *state) grace() time.Duration { return time.Duration(st.graceMS) * time.Millisecond }
