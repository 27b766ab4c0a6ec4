// Package supervise is gosu's one supervising parent: the init of --init
// (tini and gosu in one binary), the relay of --pty, and the keeper of the
// terminal when --detach-tty runs in a process that leads its session.
//
// The parent is one PID and two program images. Run, in gosu as it was
// started, prepares what needs privilege (the pseudo-terminal and its
// owner, the child subreaper flag, the parent-death signal), starts the
// child (a fresh gosu that switches and execs the command) held at a gate,
// unbound, while its own threads keep to one CPU (cpu.go), gives up every
// capability but CAP_KILL, sets no_new_privs, blocks every
// signal and execs gosu once more. Resume, in that new image, catches the
// signals, opens the gate, and runs one event loop in the shape of tini's
// until the command is done.
//
// The second exec is what makes the parent lose no signal. Go's runtime
// creates threads whenever it needs them, each with the signal mask the
// process started with, and a signal that lands on one of them and that
// os/signal does not want is dropped (or, for HUP, INT and TERM, ends the
// program); no system call can block a signal on threads a program does not
// run code on (a mask changed from a signal handler, as
// syscall.AllThreadsSyscall does, is put back when the handler returns).
// An image started with every signal blocked is the exception: all its
// threads, those it will create included, keep blocked every signal the
// runtime does not insist on handling itself, so those stay queued in the
// kernel (real-time ones one entry per signal) until a signalfd reads them.
// The few the runtime keeps unblocked (HUP, INT, QUIT, ABRT, TERM, STKFLT,
// CHLD) go through os/signal, which wants them before the gate opens.
// docs/init.md has the whole argument.
package supervise

import (
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
	"gosu/internal/drop"
	"gosu/internal/errs"
	"gosu/internal/fds"
	"gosu/internal/tty"
)

// Config says what to start and how to supervise it.
type Config struct {
	Path       string // the fresh gosu child to start
	Argv, Env  []string
	PTY        bool    // run the child on a new pty, relaying those of stdin/out/err that are terminals (Terms)
	PTYOwner   uint32  // the new pty's owner (mode 0620)
	Terms      [3]bool // which of stdin, stdout, stderr are terminals
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

// self is the running binary, which the parent execs again: not a path that
// may have changed since.
const self = "/proc/self/exe"

// Run starts the child and hands the parent over to a fresh image of gosu
// (Resume), which supervises it and exits with the command's status. Run
// returns only when that fails, with the error; the child, if it was
// started, is gone by then.
func Run(c Config) (int, error) {
	// The child is forked from, and the parent's credentials and signal
	// mask are changed on, the thread that then execs: the main thread,
	// which gosu keeps its main goroutine on. (A child's parent-death
	// signal follows the thread that forked it, and exec keeps only the
	// thread that calls it.)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := &handoff{c: c, st: state{pid: -1, pidfd: -1, gate: -1, master: -1, relayTerm: -1, relayOut: -1, initTerm: -1}}
	err := h.start()
	if err == nil {
		err = h.exec()
	}
	h.abort()
	return 1, errs.Wrap("--"+c.option(), err)
}

func (c *Config) option() string {
	switch {
	case c.Init:
		return "init"
	case c.PTY:
		return "pty"
	}
	return "detach-tty"
}

// handoff is what Run prepares for the supervisor.
type handoff struct {
	c     Config
	st    state
	slave int
	// The supervisor's CPU, if placed (cpu.go).
	super  cpuSet
	placed bool
}

// start prepares everything that needs privilege and starts the child at
// the gate.
func (h *handoff) start() error {
	c := &h.c
	st := &h.st
	pid1 := unix.Getpid() == 1
	// A pidfd (Linux 5.3, -1 before) lets the supervisor see the
	// command's exit on the descriptor it polls, without the several
	// thread wake-ups os/signal takes to report SIGCHLD.
	attr := syscall.SysProcAttr{PidFD: &st.pidfd}
	files := []uintptr{0, 1, 2}
	h.slave = -1
	if c.PTY {
		if err := h.openPTY(&attr, files); err != nil {
			return err
		}
	} else if c.NewSession {
		attr.Setsid = true
	} else {
		// tini's isolate_child: a process group of its own, and the
		// terminal's foreground if gosu has it, so that Ctrl-C and Ctrl-Z
		// reach the command and not the init. Unlike tini, never take the
		// foreground from another job.
		attr.Setpgid = true
		for fd := 0; fd <= 2 && c.Init; fd++ {
			if tty.Foreground(fd) {
				st.initTerm, attr.Foreground, attr.Ctty = fd, true, fd
				break
			}
		}
	}
	if c.Init && !pid1 {
		// Orphans of the command's tree become children of the init, which
		// reaps them, instead of going to the real init.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return errs.Wrap("becoming a child subreaper", err)
		}
	}
	if err := drop.ParentDeathSignal(c.ParentDeathSignal, c.Parent); err != nil {
		return errs.Wrap("--pdeathsig", err)
	}
	// The gate between parent and child: a pipe whose read end the child
	// gets (not close-on-exec) and whose write end the parent keeps. The
	// parent writes one byte once it catches every signal, and the child
	// waits for that before it switches and execs the command, so the
	// command never exists while a signal could be lost. The child then
	// marks its end close-on-exec: the command's exec closes the last read
	// end, poll reports POLLERR on the write end, and the parent knows that
	// signals it forwards from then on reach the command rather than the
	// gosu before it.
	// (Go's runtime opens /dev/null for any of descriptors 0 to 2 that
	// gosu was started without, so none of the parent's own takes their
	// numbers.)
	var gate [2]int
	err := unix.Pipe2(gate[:], unix.O_CLOEXEC)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(gate[0]), unix.F_SETFD, 0)
	}
	if err != nil {
		return err
	}
	st.gate = gate[1]
	argv := append([]string{c.Argv[0], "--" + SyncOption + "=" + strconv.Itoa(gate[0])}, c.Argv[1:]...)

	// Forked before the parent changes anything, the child starts with
	// gosu's signal mask and dispositions: handled signals reset to their
	// default, ignored ones still ignored, exactly as a plain gosu's
	// command would get them.
	pa := &syscall.ProcAttr{Env: c.Env, Files: files, Sys: &attr}
	h.place()
	pid, err := syscall.ForkExec(c.Path, argv, pa)
	if err == syscall.EINVAL {
		// qemu-user (7.2, which runs foreign-architecture containers
		// through binfmt_misc) refuses CLONE_PIDFD where a kernel before
		// 5.3 ignores it: go on without the pidfd, as there.
		attr.PidFD, st.pidfd = nil, -1
		pid, err = syscall.ForkExec(c.Path, argv, pa)
	}
	if err != nil && attr.Foreground {
		// The terminal's foreground changed since it was checked.
		attr.Foreground, st.initTerm = false, -1
		pid, err = syscall.ForkExec(c.Path, argv, pa)
	}
	unix.Close(gate[0])
	if h.slave >= 0 {
		unix.Close(h.slave)
		h.slave = -1
	}
	if err != nil {
		return errs.Wrap("starting gosu again as "+c.Path, err)
	}
	st.pid = pid
	if c.Init {
		st.flags |= flagInit
	}
	if c.Group {
		st.flags |= flagGroup
	}
	st.graceMS = int(c.Grace.Milliseconds())
	for _, code := range c.Success {
		st.success[code/8] |= 1 << (code % 8)
	}
	return nil
}

// openPTY opens the new pseudo-terminal for the child, once the caller's
// terminal may be used (a job in the background waits to be brought to the
// foreground, as stty(1) would).
func (h *handoff) openPTY(attr *syscall.SysProcAttr, files []uintptr) error {
	c, st := &h.c, &h.st
	term := -1
	for fd := 2; fd >= 0; fd-- {
		if c.Terms[fd] {
			term = fd
		}
	}
	if term < 0 {
		return errs.Explain("no terminal on stdin, stdout or stderr", syscall.ENOTTY)
	}
	if c.Terms[0] {
		if err := awaitForeground(0); err != nil {
			return errs.Wrap("waiting for the terminal's foreground", err)
		}
	}
	p, err := tty.Open(c.PTYOwner)
	if err != nil {
		return err
	}
	st.master, h.slave = p.Master, p.Slave
	if err := p.Inherit(term); err != nil {
		return errs.Wrap("copying the terminal's settings", err)
	}
	st.relayTerm, st.relayOut = term, 1
	if !c.Terms[1] {
		st.relayOut = 2
	}
	if c.Terms[0] {
		st.flags |= flagRelayIn
	}
	attr.Setsid, attr.Setctty, attr.Ctty = true, true, -1
	for fd, isTerm := range c.Terms {
		if isTerm {
			files[fd] = uintptr(p.Slave)
			if attr.Ctty < 0 {
				attr.Ctty = fd
			}
		}
	}
	return nil
}

// awaitForeground waits, as stty(1) would, until the job may change the
// terminal at fd (tty.AwaitForeground), with HUP, INT, QUIT and TERM at
// their default actions meanwhile: they then end gosu while it is stopped
// (the kernel acts on a fatal signal at once), as they end stty. With Go's
// handlers they would wait for a SIGCONT, and the handler that ends the
// program can itself be stopped when the restarted change stops the job
// again (seen about once in 20 times under timeout(1) and bash's kill).
func awaitForeground(fd int) error {
	sigs := [...]syscall.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM}
	var old [len(sigs)]sigaction
	var saved [len(sigs)]bool
	for i, sig := range sigs {
		var dfl sigaction
		// One ignored when gosu started stays ignored.
		if rtSigaction(sig, nil, &old[i]) == nil && old[i].handler != 1 {
			saved[i] = rtSigaction(sig, &dfl, nil) == nil
		}
	}
	err := tty.AwaitForeground(fd)
	for i, sig := range sigs {
		if saved[i] {
			rtSigaction(sig, &old[i], nil)
		}
	}
	return err
}

// exec becomes the supervisor: it closes what gosu inherited (the child has
// its copies), keeps only CAP_KILL and sets no_new_privs on this thread,
// blocks every signal, binds itself to the supervisor's CPU (cpu.go), and
// execs gosu again, the state in a pipe. Every thread of the new image
// starts from this one's credentials, mask and affinity. It returns only
// on failure.
func (h *handoff) exec() error {
	// The state goes through a pipe the next image reads: a few hundred
	// bytes, well within a pipe's buffer.
	var p [2]int
	err := unix.Pipe2(p[:], unix.O_CLOEXEC)
	if err == nil {
		_, err = unix.Write(p[1], h.st.bytes())
		unix.Close(p[1])
	}
	// Descriptors without FD_CLOEXEC survived the exec that started gosu:
	// they are the caller's, and the exec below closes them all. The
	// supervisor's own, opened close-on-exec, are handed to the next image
	// as if inherited.
	var fdsBuf [4]int
	keep := fdsBuf[:0]
	for _, fd := range [...]int{p[0], h.st.gate, h.st.master, h.st.pidfd} {
		if fd >= 0 && err == nil {
			keep = append(keep, fd)
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		}
	}
	if err == nil {
		err = fds.CloseOnExec(keep)
	}
	// What the supervisor needs to signal and reap a command running as
	// another user, and nothing else: uid 0 stays (as the target's uid,
	// the command could ptrace the parent and use its terminal
	// descriptors), and of the capabilities only CAP_KILL, in the
	// permitted and effective sets (inheritable and ambient empty), and
	// no_new_privs. Both belong to a thread: this one, which execs, and
	// exec gives the new image's threads its credentials, no_new_privs
	// making sure the exec (as uid 0) regains nothing beyond CAP_KILL. The
	// bounding set is left as it is: it only limits what an exec can gain,
	// and the supervisor execs nothing.
	var have caps.Sets
	if err == nil {
		have, err = caps.Get()
	}
	if err == nil {
		keep := have.Permitted & (1 << unix.CAP_KILL)
		err = caps.Set(caps.Sets{Effective: keep, Permitted: keep})
	}
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		// No core dump: the relay re-raises the command's SIGQUIT on
		// itself, and a root process would write its memory (what went
		// through the terminal) to a file in the caller's working
		// directory whenever the command chose to (sudo disables its own
		// the same way). The child, forked before, keeps the caller's limit.
		err = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	}
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err == nil {
		err = unix.PthreadSigmask(unix.SIG_SETMASK, &all, nil)
	}
	if err == nil {
		if h.placed {
			setAffinity(0, &h.super)
		}
		// GOMAXPROCS=1: the supervisor runs one goroutine that matters,
		// and fewer processors mean fewer runtime threads kept
		// (bench/parent.sh: 7 rather than 6 to 9). No other variable: the
		// user's GODEBUG or GOGC are for the command.
		err = syscall.Exec(self, []string{h.c.Name, "--" + ResumeOption + "=" + strconv.Itoa(p[0])}, []string{"GOMAXPROCS=1"})
	}
	return errs.Wrap("becoming the supervisor", err)
}

// abort undoes start after a failure: the child, held at the gate, is
// killed and reaped (it is gosu's unreaped child, so its PID cannot have
// been reused), and the descriptors are closed.
func (h *handoff) abort() {
	if h.st.pid > 0 {
		unix.Kill(h.st.pid, unix.SIGKILL)
		unix.Wait4(h.st.pid, nil, 0, nil)
	}
	for _, fd := range []int{h.st.gate, h.st.pidfd, h.st.master, h.slave} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}
