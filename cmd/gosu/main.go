// Command gosu runs a command as another user in place of itself: it switches
// groups, gid and uid, proves the switch, and execs, so the command keeps
// gosu's PID, stdio and terminal and receives signals directly.
package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/drop"
	"gosu/internal/environ"
	"gosu/internal/explain"
	"gosu/internal/fds"
	"gosu/internal/launch"
	"gosu/internal/spec"
	"gosu/internal/super"
	"gosu/internal/tty"
)

func init() {
	// (Upstream also calls runtime.GOMAXPROCS(1) here. In interleaved perf
	// stat runs that made start-up slower, not faster: it stops the world
	// and resizes the scheduler, which costs more than the threads it saves.)
	//
	// Capabilities (and, for raw syscalls, credentials) belong to a thread,
	// not to the process. Keep main on the thread it starts on, so that every
	// per-thread change is made on the thread that finally calls execve.
	runtime.LockOSThread()
}

func main() {
	os.Exit(run(os.Args))
}

// run does what gosu does, in the order the kernel needs it, and returns the
// exit status when it cannot exec.
func run(args []string) int {
	ppid := unix.Getppid() // before anything, for --pdeathsig
	self := "gosu"
	if len(args) > 0 && args[0] != "" {
		self = args[0]
	}
	if err := drop.RefuseSetuid(self); err != nil {
		return fail(1, err.Error())
	}
	name := filepath.Base(self)
	if len(args) >= 2 {
		switch args[1] {
		case "--help", "-h", "-?":
			os.Stdout.WriteString(usage(name))
			return 0
		case "--version", "-v":
			os.Stdout.WriteString(version() + "\n")
			return 0
		}
	}
	var o options
	var rest []string
	if len(args) > 1 {
		var err error
		if o, rest, err = parseOptions(args[1:]); err != nil {
			return fail(1, err.Error())
		}
	}
	if len(rest) < 2 {
		os.Stderr.WriteString(usage(name))
		return 1
	}
	userSpec, argv := rest[0], rest[1:]

	// Who: the identity, then what else the process keeps or loses.
	caller := spec.Caller{UID: uint32(unix.Getuid()), GID: uint32(unix.Getgid())}
	id, err := spec.Resolve(userSpec, caller, account.System)
	if err != nil {
		return failSwitch(userSpec, err)
	}
	target, err := o.target(id, ppid)
	if err != nil {
		return failSwitch(userSpec, err)
	}
	changes := environ.Changes(id, o.env)
	env := environ.Apply(os.Environ(), changes)

	ttyMode := "shared"
	var terms [3]bool
	if o.pty {
		terms = super.Terminals()
	}
	switch {
	case o.detachTTY:
		ttyMode = "detach"
	case o.pty && terms == [3]bool{}:
		// Nothing to relay: with no terminal on stdio, the only way to the
		// caller's terminal is as controlling terminal, which detaching
		// removes, and the command keeps gosu's PID.
		if o.explain == "" {
			os.Stderr.WriteString(name + ": --pty: no terminal on stdin, stdout or stderr; detaching from the controlling terminal instead\n")
		}
		ttyMode = "detach"
	case o.pty:
		ttyMode = "pty"
	}
	if o.explain != "" {
		p := explain.Plan{Command: argv, Identity: id, Target: target, Env: changes, Caller: os.Environ(),
			TTY: ttyMode, CloseFDs: o.closeFDs, KeepFDs: o.keepFDs}
		if o.explain == "json" {
			os.Stdout.WriteString(explain.JSON(p))
		} else {
			os.Stdout.WriteString(explain.Text(p))
		}
		return 0
	}
	if ttyMode == "pty" {
		// The command's parent is the relay: give the relay the same
		// parent-death signal, which it passes on (or, KILL, dies of, and the
		// command gets its own), so the command hears of gosu's parent too.
		if err := drop.ParentDeathSignal(target.ParentDeathSignal, target.Parent); err != nil {
			return fail(1, "--pdeathsig: "+err.Error())
		}
		if !terms[0] {
			os.Stderr.WriteString(name + ": --pty: stdin is not a terminal; passing it to COMMAND as it is, and only the terminal outputs through the new pseudo-terminal\n")
		}
		status, err := super.PTY("/proc/self/exe", childArgs(args[0], o.words, rest), os.Environ(), target.UID, terms)
		if err != nil {
			return fail(1, err.Error())
		}
		return status
	}

	// The process changes, then the switch, then exec.
	if o.closeFDs {
		if err := fds.CloseOnExec(o.keepFDs); err != nil {
			return fail(1, "--close-fds: "+err.Error())
		}
	}
	if ttyMode == "detach" {
		if err := tty.Detach(); err != nil {
			return fail(1, "--detach-tty: "+err.Error())
		}
	}
	if err := drop.Switch(target); err != nil {
		return failSwitch(userSpec, err)
	}
	e := launch.Exec(argv, env)
	return fail(e.Code, e.Error())
}

// target turns the identity and the options into what drop.Switch applies.
func (o options) target(id spec.Identity, ppid int) (drop.Target, error) {
	t := drop.Target{UID: id.UID, GID: id.GID, Groups: id.Groups, KeepCaps: o.keepCaps,
		LimitBounding: o.dropBounding, NoNewPrivs: o.noNewPrivs, ParentDeathSignal: o.pdeathsig, Parent: ppid}
	if o.keepCaps != 0 && id.UID == 0 {
		return t, errors.New("--keep-caps: the user is root, which keeps every capability anyway")
	}
	var extra []uint32
	if o.keepGroups {
		groups, err := unix.Getgroups()
		if err != nil {
			return t, err
		}
		for _, g := range groups {
			extra = append(extra, uint32(g))
		}
	}
	added, err := spec.GroupIDs(o.addGroups, account.System)
	if err != nil {
		return t, err
	}
	t.Groups = mergeGroups(id.Groups, append(extra, added...))
	return t, nil
}

// mergeGroups appends the gids of more that groups lacks, in order.
func mergeGroups(groups, more []uint32) []uint32 {
	out := slices.Clone(groups)
	for _, g := range more {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// childArgs is the command line of the gosu child that --pty starts: the
// same, without --pty.
func childArgs(self string, words, rest []string) []string {
	out := []string{self}
	for _, w := range words {
		if w != "--pty" {
			out = append(out, w)
		}
	}
	return append(append(out, "--"), rest...)
}

func failSwitch(userSpec string, err error) int {
	return fail(1, "failed switching to '"+userSpec+"': "+err.Error())
}

func fail(code int, msg string) int {
	os.Stderr.WriteString("error: " + msg + "\n")
	return code
}

func usage(self string) string {
	var b strings.Builder
	b.WriteString(`Usage: ` + self + ` [OPTIONS] USER-SPEC COMMAND [ARG...]
   eg: ` + self + ` tianon bash
       ` + self + ` nobody:root bash -c 'whoami && id'
       ` + self + ` 1000:1 id

Runs COMMAND as USER-SPEC in place of ` + self + `: same PID, stdio and terminal,
so signals reach COMMAND directly and nothing is left running in between.

USER-SPEC is user, uid, user:group, uid:gid (names and ids mixed freely),
:group, user: or empty (the caller). A part made only of digits is an id.
A user alone also gets every group of /etc/group that lists it as a member;
user:group means exactly that user and that group. Only /etc/passwd and
/etc/group are read; malformed lines in them never match.

HOME is set from the user's entry ("/" without one); no other variable
changes. COMMAND is searched in PATH (or the default PATH) as the new user.
`)
	if len(optionTable) > 0 {
		b.WriteString("\nOptions (only before USER-SPEC; -- ends them):\n")
		for _, o := range optionTable {
			head := "  --" + o.name
			switch {
			case o.optional:
				head += "[=" + o.value + "]"
			case o.value != "":
				head += "=" + o.value
			}
			b.WriteString(head + "\n      " + strings.ReplaceAll(o.help, "\n", "\n      ") + "\n")
		}
	}
	b.WriteString(`
Exit status: COMMAND's own; 1 when ` + self + ` itself fails (usage, unknown
user or group, failed switch); 126 when COMMAND is found but cannot be run;
127 when it is not found.

` + self + ` version: ` + version() + `
` + self + ` license: Apache-2.0
`)
	return b.String()
}
