package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/caps"
	"gosu/internal/errs"
	"gosu/internal/plan"
)

// defaultGrace is how long --init gives processes left behind between
// SIGTERM and SIGKILL: docker stop waits 10 s before its own SIGKILL, so
// half of that leaves the init time to report the command's status.
const defaultGrace = 5 * time.Second

// options are the settings given before the user spec: the request for a
// plan, and how to present it.
type options struct {
	plan.Request
	explain        string // "", "text" or "json"
	resolved       string // the numeric plan from a supervising parent
	keepFDsGiven   bool
	chownFromGiven bool
	initGiven      []string // --init-* options, which need --init
}

// option is one "--name" or "--name=value" word. Options exist only before
// the user spec and only in this long form, which can never be a user name,
// so "gosu USER CMD" reads exactly as upstream.
type option struct {
	name     string
	value    string // placeholder shown in --help when the option takes a value; "" when it takes none
	optional bool   // the value may be left out
	help     string
	hidden   bool // gosu's own, not in --help
}

var optionTable = []option{
	{name: "detach-tty", help: "Detach COMMAND from the controlling terminal (setsid, or TIOCNOTTY\nwhen gosu leads its process group), so that it cannot push input into\nthe caller's shell with TIOCSTI. Stdio and the PID stay; job control\ngoes. When gosu leads its session (a container's PID 1 with a\nterminal), COMMAND runs in a new session as the child of a small gosu\nparent that keeps the terminal, so that COMMAND cannot take it back."},
	{name: "pty", help: "Run COMMAND on a new pseudo-terminal, in its own session, as the user.\ngosu stays as a small parent (uid 0 with only CAP_KILL) that relays\nthe terminal in raw mode, window size and signals, and exits with\nCOMMAND's status (128+N for signal N). Stdio that is not a terminal\nis passed through as it is."},
	{name: "no-new-privs", help: "Set no_new_privs: no exec by COMMAND or its children gains privileges\n(setuid bits and file capabilities are ignored)."},
	{name: "keep-caps", value: "CAP,...", help: "Keep these capabilities (capabilities(7) names, with or without\nCAP_, any case) across the switch to a non-root user, as ambient\ncapabilities: e.g. --keep-caps=net_bind_service for a server on\nport 80. Repeated, the lists add up. Capabilities that lead back to\nroot or root's files (chown, dac_override, fowner, setgid, setfcap,\nsys_admin, ... see the manual) are refused; CAP_SETUID always."},
	{name: "allow-unsafe-caps", help: "Let --keep-caps keep capabilities that lead back to root (all but\nCAP_SETUID), with a warning on stderr. Only for a COMMAND you would\nrun as root anyway."},
	{name: "drop-bounding", help: "Drop every capability not named by --keep-caps from the bounding\nset, so no later exec (setuid or file capabilities) can gain it."},
	{name: "close-fds", help: "Close every inherited file descriptor above 2 (at exec: close_range\nwith CLOSE_RANGE_CLOEXEC, or one fcntl each on older kernels)."},
	{name: "keep-fds", value: "FD,...", help: "With --close-fds: keep these descriptors open."},
	{name: "keep-groups", help: "Keep the supplementary groups gosu was started with (docker run\n--group-add, Kubernetes supplementalGroups) besides the user's."},
	{name: "add-groups", value: "GROUP,...", help: "Add these supplementary groups (names from /etc/group, or gids)."},
	{name: "login-env", help: "Also set USER, LOGNAME and SHELL from the user's passwd entry (for a\nuid without one, USER and LOGNAME are the number; SHELL is left)."},
	{name: "keep-home", help: "Keep the caller's HOME instead of setting the user's."},
	{name: "pdeathsig", value: "SIGNAL", help: "Send SIGNAL (TERM, SIGKILL, 9, ...) to COMMAND when gosu's parent\nexits. Set after the switch, since the kernel clears it on every\ncredential change."},
	{name: "init", help: "Stay as a minimal init (like tini): COMMAND runs as the user in a child\nthat switches exactly as gosu does; the parent reaps every zombie\n(as a child subreaper when not PID 1), forwards every signal to\nCOMMAND, exits with its status (128+N for signal N), and gives\nprocesses left behind SIGTERM, a grace period, then SIGKILL."},
	{name: "init-pgroup", help: "With --init: forward signals to COMMAND's whole process group\n(tini -g)."},
	{name: "init-success", value: "CODE,...", help: "With --init: exit 0 when COMMAND exits with one of these codes\n(tini -e), e.g. 143 for a JVM stopped by SIGTERM."},
	{name: "init-grace", value: "SECONDS", help: "With --init: how long processes left behind by COMMAND get between\nSIGTERM and SIGKILL (default 5; 0 sends SIGKILL at once)."},
	{name: "chown", value: "PATH", help: "Before the switch, give PATH and everything under it to the user and\ngroup, as `find PATH \\! -user U -exec chown U:G {} +` does, but\nsafely: symbolic links are never followed, mounts below are not\nentered, a file with hard links outside the tree is skipped, and only\nwhat is not already right is changed. Repeatable."},
	{name: "chown-from", value: "UID:GID", help: "With --chown: change only entries owned by UID (to the user) and,\nindependently, only entries of group GID (to the group), as chown\n--from and fixuid do; either may be left empty for any."},
	{name: "add-user", value: "NAME", optional: true, help: "When the user's uid has no passwd entry, add one (named NAME, or\nuser<UID>), a group for a gid that has none, a locked /etc/shadow\nline and the home directory, with locked, atomic writes; then go on\nas if the entry had been there. Nothing is written when it exists."},
	{name: "allow-root-owner", help: "With a /PATH user spec (the owner of PATH): allow the owner to be\nroot, which is refused by default (a volume that failed to mount)."},
	{name: "explain", value: "json", optional: true, help: "Print what gosu would do (identity, environment, capabilities,\nterminal, fds) instead of doing it; as JSON with --explain=json."},
	{name: plan.ResolvedOption, value: "PLAN", hidden: true},
}

// set applies one option with its value. (One switch rather than a closure
// per option: each closure costs the binary's size budget.)
func (o *options) set(name, v string) error {
	switch name {
	case "detach-tty":
		o.DetachTTY = true
	case "pty":
		o.PTY = true
	case "no-new-privs":
		o.NoNewPrivs = true
	case "keep-caps":
		m, err := caps.Parse(v)
		if err == nil && m&caps.Setuid != 0 {
			err = errors.New("CAP_SETUID cannot be kept: it would let COMMAND become root again")
		}
		o.KeepCaps |= m
		return err
	case "allow-unsafe-caps":
		o.AllowUnsafeCaps = true
	case "drop-bounding":
		o.DropBounding = true
	case "close-fds":
		o.CloseFDs = true
	case "keep-fds":
		for f := range strings.SplitSeq(v, ",") {
			fd, err := strconv.Atoi(f)
			if err != nil || fd < 0 {
				return errors.New("not a file descriptor number: " + errs.Quote(f))
			}
			o.KeepFDs = append(o.KeepFDs, fd)
		}
		o.keepFDsGiven = true
	case "keep-groups":
		o.KeepGroups = true
	case "add-groups":
		for g := range strings.SplitSeq(v, ",") {
			if g == "" {
				return errors.New("empty group name")
			}
			o.AddGroups = append(o.AddGroups, g)
		}
	case "login-env":
		o.Env.Login = true
	case "keep-home":
		o.Env.KeepHome = true
	case "pdeathsig":
		o.ParentDeathSig = parseSignal(v)
		if o.ParentDeathSig == 0 {
			return errors.New("unknown signal " + errs.Quote(v))
		}
	case "init":
		o.Init = true
	case "init-pgroup":
		o.InitPGroup = true
		o.initGiven = append(o.initGiven, "init-pgroup")
	case "init-success":
		for s := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 255 {
				return errors.New("not an exit code (0-255): " + errs.Quote(s))
			}
			o.InitSuccess = append(o.InitSuccess, n)
		}
		o.initGiven = append(o.initGiven, "init-success")
	case "init-grace":
		d, ok := parseSeconds(v)
		if !ok {
			return errors.New("not a number of seconds from 0 to 3600: " + errs.Quote(v))
		}
		o.InitGrace = d
		o.initGiven = append(o.initGiven, "init-grace")
	case "chown":
		if v == "" {
			return errors.New("empty path")
		}
		o.Chown = append(o.Chown, v)
	case "chown-from":
		u, g, ok := strings.Cut(v, ":")
		var err error
		if !ok {
			err = errors.New("UID:GID expected")
		}
		if err == nil {
			o.ChownFromUID, err = optionalID(u)
		}
		if err == nil {
			o.ChownFromGID, err = optionalID(g)
		}
		o.chownFromGiven = true
		return err
	case "add-user":
		o.AddUser, o.AddUserName = true, v
	case "allow-root-owner":
		o.AllowRootOwner = true
	case "explain":
		switch v {
		case "":
			o.explain = "text"
		case "json", "text":
			o.explain = v
		default:
			return errors.New("format must be text or json")
		}
	case plan.ResolvedOption:
		o.resolved = v
	}
	return nil
}

// parseSeconds reads a number of seconds from 0 to 3600 with at most three
// decimals ("5", "0.25"). (strconv.ParseFloat would cost 7 KB of the size
// budget for this one option.)
func parseSeconds(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 3 || len(whole) > 4 {
		return 0, false
	}
	ms := 0 // the digits of whole, then exactly three of frac
	for _, c := range []byte(whole + (frac + "000")[:3]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = ms*10 + int(c-'0')
	}
	if ms > 3600*1000 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// optionalID reads a uid or gid, or "" for any (-1).
func optionalID(s string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	id, err := account.ParseID(s)
	return int64(id), err
}

// parseSignal reads TERM, SIGTERM, term or a number from 1 to 64.
func parseSignal(s string) syscall.Signal {
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 1 && n <= 64 {
			return syscall.Signal(n)
		}
		return 0
	}
	s = caps.Upper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return unix.SignalNum(s)
}

// parseOptions consumes the options at the front of args and returns the
// rest, which starts with the user spec. "--" ends the options.
func parseOptions(args []string) (options, []string, error) {
	o := options{Request: plan.Request{InitGrace: defaultGrace, ChownFromUID: -1, ChownFromGID: -1}}
	given := 0
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		word := args[0]
		args = args[1:]
		if word == "--" {
			break
		}
		name, val, hasVal := strings.Cut(word[2:], "=")
		opt := lookupOption(name)
		switch {
		case opt == nil:
			return o, nil, usageError("unknown option '" + word + "'")
		case opt.value != "" && !hasVal && !opt.optional:
			return o, nil, usageError("option '--" + name + "' needs a value: --" + name + "=" + opt.value)
		case opt.value == "" && hasVal:
			return o, nil, usageError("option '--" + name + "' takes no value")
		}
		if err := o.set(name, val); err != nil {
			return o, nil, usageError("option '--" + name + "': " + err.Error())
		}
		given++
	}
	switch {
	case o.resolved != "" && given > 1:
		return o, nil, usageError("option '--" + plan.ResolvedOption + "' is for gosu's own use and goes alone")
	case o.chownFromGiven && len(o.Chown) == 0:
		return o, nil, usageError("option '--chown-from' needs '--chown'")
	case len(o.initGiven) > 0 && !o.Init:
		return o, nil, usageError("option '--" + o.initGiven[0] + "' needs '--init'")
	case o.keepFDsGiven && !o.CloseFDs:
		return o, nil, usageError("option '--keep-fds' needs '--close-fds'")
	case o.PTY && o.DetachTTY:
		return o, nil, usageError("options '--pty' and '--detach-tty' exclude each other")
	}
	return o, args, nil
}

func lookupOption(name string) *option {
	for i := range optionTable {
		if optionTable[i].name == name {
			return &optionTable[i]
		}
	}
	return nil
}

type usageError string

func (e usageError) Error() string { return string(e) + " (see 'gosu --help')" }
