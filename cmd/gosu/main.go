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

	"gosu/internal/account"
	"gosu/internal/drop"
	"gosu/internal/launch"
	"gosu/internal/spec"
)

func init() {
	// Nothing here runs in parallel, and each all-threads set*id call stops
	// the world and signals every thread: one P keeps the runtime from
	// starting threads it would then have to signal (measured: start-up
	// ~10% faster).
	runtime.GOMAXPROCS(1)
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
	var rest []string
	if len(args) > 1 {
		var err error
		if _, rest, err = parseOptions(args[1:]); err != nil {
			return fail(1, err.Error())
		}
	}
	if len(rest) < 2 {
		os.Stderr.WriteString(usage(name))
		return 1
	}
	userSpec, argv := rest[0], rest[1:]

	caller := spec.Caller{UID: uint32(unix.Getuid()), GID: uint32(unix.Getgid())}
	id, err := spec.Resolve(userSpec, caller, account.System)
	if err != nil {
		return failSwitch(userSpec, err)
	}
	env := withHome(os.Environ(), id.Home)
	if err := drop.Switch(drop.Target{UID: id.UID, GID: id.GID, Groups: id.Groups}); err != nil {
		return failSwitch(userSpec, err)
	}
	e := launch.Exec(argv, env)
	return fail(e.Code, e.Error())
}

// withHome sets HOME to the target's home, as upstream always does, and
// leaves every other variable as it is.
func withHome(env []string, home string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
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
			if o.value != "" {
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
