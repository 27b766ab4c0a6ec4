// Package super is gosu's supervising parent. For --pty it starts gosu again
// as a child in a new session whose controlling terminal is a new
// pseudo-terminal; the child switches user and execs as usual, while the
// parent, keeping its credentials and reading nothing but the relay, copies
// bytes between the real terminal and the new one, passes on window size
// changes and signals, and exits with the child's status. This is what
// `su --pty` and sudo's use_pty do: whatever the command pushes into its
// terminal with TIOCSTI lands in its own input, never in the caller's shell.
package super

import (
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"gosu/internal/tty"
)

// forwarded are the signals a terminal user or a runtime sends to gosu that
// the child gets instead. (In raw mode Ctrl-C and friends are bytes, which
// the new terminal turns into signals for the command.)
var forwarded = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2}

// drainIdleMs is how long the parent keeps relaying after the child exits
// while output still arrives from processes the command left behind.
const drainIdleMs = 100

// Terminals says which of stdin, stdout and stderr are terminals.
func Terminals() [3]bool {
	return [3]bool{tty.IsTerminal(0), tty.IsTerminal(1), tty.IsTerminal(2)}
}

// exited carries the child's wait status through the signal channel, so
// that one receive serves both.
type exited syscall.WaitStatus

func (exited) String() string { return "child exited" }
func (exited) Signal()        {}

// PTY runs self with argv (gosu without --pty) on a new pseudo-terminal that
// belongs to owner, relays it, and returns the status to exit with: the
// child's exit code, or 128+N when a signal N ended it. Each of stdin,
// stdout and stderr that is a terminal (terms, from Terminals) is replaced by
// the new one; the others are passed to the child as they are, so piped data
// stays byte-exact and EOF still reaches the command. At least one must be a
// terminal.
func PTY(self string, argv, env []string, owner uint32, terms [3]bool) (int, error) {
	termFd := -1
	for fd := 2; fd >= 0; fd-- {
		if terms[fd] {
			termFd = fd
		}
	}
	if termFd < 0 {
		return 0, errors.New("--pty: no terminal on stdin, stdout or stderr")
	}
	p, err := tty.Open(owner)
	if err != nil {
		return 0, errors.New("--pty: " + err.Error())
	}
	defer p.Close()
	if err := p.Inherit(termFd); err != nil {
		return 0, errors.New("--pty: copying the terminal's settings: " + err.Error())
	}

	files := []uintptr{0, 1, 2}
	ctty := -1
	for fd, isTerm := range terms {
		if isTerm {
			files[fd] = uintptr(p.Slave)
			if ctty < 0 {
				ctty = fd
			}
		}
	}
	// Notify before the child exists, so no signal meant for it is lost.
	events := make(chan os.Signal, 16)
	signal.Notify(events, append(forwarded, syscall.SIGWINCH)...)
	defer signal.Stop(events)

	// The child is forked from this locked main thread, so the runtime gives
	// it the signal mask gosu was started with, exactly.
	pid, err := syscall.ForkExec(self, argv, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: ctty},
	})
	p.CloseSlave()
	if err != nil {
		return 0, errors.New("--pty: starting gosu on the new terminal: " + err.Error())
	}
	go func() {
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
				break
			}
		}
		events <- exited(ws)
	}()

	if terms[0] {
		restore, err := tty.MakeRaw(0)
		if err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			return 0, errors.New("--pty: putting the terminal in raw mode: " + err.Error())
		}
		defer restore()
		go tty.Copy(p.Master, 0)
	}
	out := 1
	if !terms[1] {
		out = 2
	}
	var done atomic.Bool
	relayed := make(chan struct{})
	go func() {
		p.Drain(out, done.Load, drainIdleMs)
		close(relayed)
	}()

	for ev := range events {
		switch ev := ev.(type) {
		case exited:
			done.Store(true)
			<-relayed
			if ws := syscall.WaitStatus(ev); ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			} else {
				return ws.ExitStatus(), nil
			}
		case syscall.Signal:
			if ev == syscall.SIGWINCH {
				p.Resize(termFd)
			} else {
				syscall.Kill(pid, ev)
			}
		}
	}
	return 0, nil // not reached: events is never closed
}
