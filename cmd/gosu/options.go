package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"gosu/internal/account"
	"gosu/internal/caps"
	"gosu/internal/errs"
	"gosu/internal/plan"
	"gosu/internal/signame"
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
	{name: "detach-tty", help: "COMMAND gets no controlling terminal (setsid or TIOCNOTTY), so it\ncannot push input into the caller's shell with TIOCSTI; stdio stays.\nIf gosu leads its session, COMMAND runs in a new one under a small\ngosu parent that keeps the terminal."},
	{name: "pty", help: "Run COMMAND on a new pseudo-terminal in its own session; a small gosu\nparent (uid 0, only CAP_KILL) relays it, window size and signals, and\nexits with COMMAND's status. Stdio that is not a terminal passes as is."},
	{name: "no-new-privs", help: "Set no_new_privs: no exec by COMMAND or its children gains privileges\n(setuid bits and file capabilities are ignored)."},
	{name: "keep-caps", value: "CAP,...", help: "Keep these capabilities (e.g. net_bind_service) for a non-root user,\nas ambient ones. Repeatable. Those that lead back to root (chown,\nfowner, setgid, sys_admin, ...: see the manual) are refused."},
	{name: "allow-unsafe-caps", help: "Let --keep-caps keep those (all but CAP_SETUID), with a warning."},
	{name: "drop-bounding", help: "Drop every capability but --keep-caps from the bounding set."},
	{name: "close-fds", help: "Close every inherited file descriptor above 2 at exec."},
	{name: "keep-fds", value: "FD,...", help: "With --close-fds: keep these descriptors open."},
	{name: "keep-groups", help: "Keep the supplementary groups the runtime added (docker --group-add),\nnever gid 0 or root's groups."},
	{name: "add-groups", value: "GROUP,...", help: "Add these supplementary groups (names from /etc/group, or gids)."},
	{name: "login-env", help: "Also set USER, LOGNAME and SHELL from the user's passwd entry."},
	{name: "keep-home", help: "Keep the caller's HOME instead of setting the user's."},
	{name: "pdeathsig", value: "SIGNAL", help: "Send SIGNAL (TERM, 9, ...) to COMMAND when gosu's parent exits."},
	{name: "init", help: "Stay as a minimal init (like tini): reap zombies, forward signals,\nexit with COMMAND's status, and give leftovers SIGTERM, then SIGKILL."},
	{name: "init-pgroup", help: "With --init: signal COMMAND's whole process group (tini -g)."},
	{name: "init-success", value: "CODE,...", help: "With --init: exit 0 for these exit codes of COMMAND (tini -e)."},
	{name: "init-grace", value: "SECONDS", help: "With --init: seconds between SIGTERM and SIGKILL (default 5)."},
	{name: "chown", value: "PATH", help: "Before the switch, give PATH and all under it to the user and group,\nsafely: no symlink followed, no mount entered, no outside hard link\nchanged, only what is not right yet. Repeatable."},
	{name: "chown-from", value: "UID:GID", help: "With --chown: change only owner UID and group GID (chown --from)."},
	{name: "add-user", value: "NAME", optional: true, help: "If the uid has no passwd entry, add one (NAME, or user<UID>), a group\nif the gid has none, and a home, with locked, atomic writes."},
	{name: "allow-root-owner", help: "With a /PATH user spec: allow PATH's owner to be root."},
	{name: "explain", value: "json", optional: true, help: "Print what gosu would do instead of doing it (JSON with =json)."},
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
		o.ParentDeathSig = signame.Parse(v)
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
