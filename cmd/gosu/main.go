// Command gosu runs a command as another user in place of itself: it switches
// groups, gid and uid, proves the switch, and execs, so the command keeps
// gosu's PID, stdio and terminal and receives signals directly.
package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"gosu/internal/drop"
	"gosu/internal/errs"
	"gosu/internal/explain"
	"gosu/internal/plan"
	"gosu/internal/supervise"
)

func init() {
	// (Upstream also calls runtime.GOMAXPROCS(1) here. In interleaved perf
	// stat runs that made start-up slower, not faster: it stops the world
	// and resizes the scheduler, which costs more than the threads it saves.)
	//
	// Credentials and capabilities belong to a thread, not to the process,
	// and execve keeps only the calling thread. Keep main on the thread it
	// starts on, so that the switch (package drop) is made on the thread
	// that finally calls execve. The supervising parent's own image stays
	// on its main thread too (supervise.Resume says why).
	runtime.LockOSThread()
}

func main() {
	os.Exit(run(os.Args))
}

// run does what gosu does: read the command line, resolve it into one plan,
// then print the plan or carry it out. It returns the exit status when it
// cannot exec.
func run(args []string) int {
	ppid := unix.Getppid() // before anything, for --pdeathsig
	self := "gosu"
	if len(args) > 0 && args[0] != "" {
		self = args[0]
	}
	if err := drop.RefuseSetuid(self); err != nil {
		return fail(1, err.Error())
	}
	if supervise.Resuming(args) {
		// The supervising parent, exec'd again by itself (package supervise).
		return supervise.Resume(args)
	}
	// A child of a supervising parent waits at its gate (below).
	args, gate, err := supervise.TakeSync(args)
	if err != nil {
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

	var p plan.Plan
	switch {
	case gate >= 0 && o.resolved == "":
		return fail(1, "--"+supervise.SyncOption+" is for gosu's own use")
	case o.resolved != "":
		// A fresh gosu started by a supervising parent: the plan comes
		// resolved, and the command follows it once the parent catches
		// every signal.
		if p, err = plan.FromResolved(o.resolved, rest, os.Environ(), ppid); err != nil {
			return fail(1, err.Error())
		}
		if gate >= 0 {
			if err = supervise.AwaitParent(gate); err != nil {
				return fail(1, err.Error())
			}
		}
	case len(rest) < 2:
		os.Stderr.WriteString(usage(name))
		return 1
	default:
		o.Spec, o.Command, o.Parent = rest[0], rest[1:], ppid
		if p, err = plan.Resolve(o.Request, os.Environ(), name); err != nil {
			return failSwitch(o.Spec, err)
		}
	}

	switch o.explain {
	case "text":
		os.Stdout.WriteString(explain.Text(&p))
		return 0
	case "json":
		os.Stdout.WriteString(explain.JSON(&p))
		return 0
	}
	status, err := p.Execute(self, name)
	if err != nil {
		return fail(status, err.Error())
	}
	return status
}

func failSwitch(userSpec string, err error) int {
	return fail(1, "failed switching to '"+errs.Printable(userSpec)+"': "+err.Error())
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
/PATH means the uid and gid that own PATH (neither may be root, unless
allowed), found without following a symbolic link in PATH.
A user alone also gets every group of /etc/group that lists it as a member;
user:group means exactly that user and that group. Only /etc/passwd and
/etc/group are read; malformed lines in them never match.

HOME is set from the user's entry ("/" without one); no other variable
changes. COMMAND is searched in PATH (or the default PATH) as the new user.
`)
	if len(optionTable) > 0 {
		b.WriteString("\nOptions (only before USER-SPEC; -- ends them):\n")
		for _, o := range optionTable {
			if o.hidden {
				continue
			}
			head := "  --" + o.name
			switch {
			case o.optional:
				head += "[=" + o.value + "]"
			case o.value != "":
				head += "=" + o.value
			}
			b.WriteString(head + "\n")
			for rest := o.help; rest != ""; {
				var line string
				line, rest, _ = strings.Cut(rest, "\n")
				b.WriteString("      " + line + "\n")
			}
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
