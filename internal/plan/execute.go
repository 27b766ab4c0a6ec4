package plan

import (
	"os"
	"syscall"

	"gosu/internal/drop"
	"gosu/internal/errs"
	"gosu/internal/fds"
	"gosu/internal/launch"
	"gosu/internal/supervise"
	"gosu/internal/tty"
)

// self is how a supervising parent starts gosu again: the running binary
// itself, not a path that may have changed since.
const self = "/proc/self/exe"

// Execute carries out the plan. Without a supervising parent it does not
// return on success: the process becomes the command. With one, it returns
// the command's exit status. On failure it returns the exit status that
// calls for (1, or launch's 126 and 127) and the error. argv0 is gosu's
// argv[0], which a fresh gosu is given.
func (p *Plan) Execute(argv0, name string) (int, error) {
	for _, n := range p.Notes {
		os.Stderr.WriteString(name + ": " + n + "\n")
	}
	if p.Supervised() || p.AddUser != nil || p.RemapUser != nil || len(p.Chown) > 0 {
		// Say why now, rather than after the entrypoint steps have changed
		// files, or the parent has set up a terminal, for a child that
		// cannot switch.
		if err := drop.Preflight(p.Target); err != nil {
			return 1, p.switchErr(err)
		}
	}
	if err := p.runSteps(name); err != nil {
		return 1, err
	}
	if p.Supervised() {
		return p.supervise(argv0, name)
	}
	// The process changes, then the switch, then exec. After Switch only
	// the PATH lookup and execve may run (package drop), and any failure
	// ends the process.
	if p.CloseFDs {
		if err := fds.CloseOnExec(p.KeepFDs); err != nil {
			return 1, errs.Wrap("--close-fds", err)
		}
	}
	if p.TTY == Detach {
		if err := tty.Detach(); err != nil {
			return 1, errs.Wrap("--detach-tty", err)
		}
	}
	if err := drop.Switch(p.Target); err != nil {
		return 1, p.switchErr(err)
	}
	// After the switch, as Landlock needs no_new_privs (which Switch set)
	// from a thread without CAP_SYS_ADMIN; before the PATH lookup, which the
	// rules then govern.
	if err := p.Landlock.Restrict(); err != nil {
		return 1, errs.Wrap("landlock", err)
	}
	e := launch.Exec(p.Command, p.Environ)
	return e.Code, e
}

// supervise starts a fresh gosu with the numeric plan under a parent that
// stays: the init, the pty relay, or the keeper of a session leader's
// terminal.
func (p *Plan) supervise(argv0, name string) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(self, &st); err != nil {
		return 1, errs.Wrap("--"+p.parentOption()+" starts gosu again as "+self+", which needs /proc mounted", err)
	}
	// The fresh gosu makes its rules from the descriptors opened here.
	p.Landlock.Inherit()
	status, err := supervise.Run(supervise.Config{
		Path:              self,
		Argv:              p.Child(argv0),
		Env:               p.Environ,
		PTY:               p.TTY == PTY,
		PTYOwner:          p.Target.UID,
		Terms:             p.Terms,
		NewSession:        p.TTY == Session,
		Init:              p.Init,
		Group:             p.InitPGroup,
		Success:           p.InitSuccess,
		Grace:             p.InitGrace,
		ParentDeathSignal: p.Target.ParentDeathSignal,
		Parent:            p.Target.Parent,
		Name:              name,
	})
	if err != nil {
		return 1, err
	}
	return status, nil
}

// parentOption names the option that made gosu stay as a parent.
func (p *Plan) parentOption() string {
	switch {
	case p.Init:
		return "init"
	case p.TTY == PTY:
		return "pty"
	}
	return "detach-tty"
}

func (p *Plan) switchErr(err error) error {
	return errs.Wrap("failed switching to '"+p.Spec+"'", err)
}
