package main

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"gosu/internal/account"
	"gosu/internal/caps"
	"gosu/internal/errs"
	"gosu/internal/landlock"
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
	explain  string // "", "text" or "json"
	resolved string // the numeric plan from a supervising parent
}

// option is one "--name" or "--name=value" word. Options exist only before
// the user spec and only in this long form, which can never be a user name,
// so "gosu USER CMD" reads exactly as upstream. Each entry carries its own
// setter, so that an option cannot be listed without doing something.
type option struct {
	name     string
	value    string // placeholder shown in --help when the option takes a value; "" when it takes none
	optional bool   // the value may be left out
	help     string
	hidden   bool                             // gosu's own, not in --help
	needs    string                           // another option this one only makes sense with
	set      func(o *options, v string) error // v is "" for an option without a value
}

// optionTable is every option, in --help's order.
var optionTable = []option{
	{name: "detach-tty", help: "COMMAND gets no controlling terminal (setsid or TIOCNOTTY), so it\ncannot push input into the caller's shell with TIOCSTI; stdio stays.\nIf gosu leads its session, COMMAND runs in a new one under a small\ngosu parent that keeps the terminal.",
		set: func(o *options, _ string) error { o.DetachTTY = true; return nil }},
	{name: "pty", help: "Run COMMAND on a new pseudo-terminal in its own session; a small gosu\nparent (uid 0, only CAP_KILL) relays it, window size and signals, and\nexits with COMMAND's status. Stdio that is not a terminal passes as is.",
		set: func(o *options, _ string) error { o.PTY = true; return nil }},
	{name: "no-new-privs", help: "Set no_new_privs: no exec by COMMAND or its children gains privileges\n(setuid bits and file capabilities are ignored).",
		set: func(o *options, _ string) error { o.NoNewPrivs = true; return nil }},
	{name: "keep-caps", value: "CAP,...", help: "Keep these capabilities (e.g. net_bind_service) for a non-root user,\nas ambient ones. Repeatable. Those that lead back to root (chown,\nfowner, setgid, sys_admin, ...: see the manual) are refused.",
		set: func(o *options, v string) error {
			m, err := caps.Parse(v)
			if err == nil && m&caps.Setuid != 0 {
				err = errors.New("CAP_SETUID cannot be kept: it would let COMMAND become root again")
			}
			o.KeepCaps |= m
			return err
		}},
	{name: "allow-unsafe-caps", help: "Let --keep-caps keep those (all but CAP_SETUID), with a warning.",
		set: func(o *options, _ string) error { o.AllowUnsafeCaps = true; return nil }},
	{name: "drop-bounding", help: "Drop every capability but --keep-caps from the bounding set.",
		set: func(o *options, _ string) error { o.DropBounding = true; return nil }},
	{name: "close-fds", help: "Close every inherited file descriptor above 2 at exec.",
		set: func(o *options, _ string) error { o.CloseFDs = true; return nil }},
	{name: "keep-fds", needs: "close-fds", value: "FD,...", help: "With --close-fds: keep these descriptors open.",
		set: func(o *options, v string) error {
			return eachItem(v, func(f string) error {
				fd, err := strconv.Atoi(f)
				if err != nil || fd < 0 {
					return errors.New("not a file descriptor number: " + errs.Quote(f))
				}
				o.KeepFDs = append(o.KeepFDs, fd)
				return nil
			})
		}},
	{name: "keep-groups", help: "Keep the supplementary groups the runtime added (docker --group-add),\nnever gid 0 or root's groups.",
		set: func(o *options, _ string) error { o.KeepGroups = true; return nil }},
	{name: "add-groups", value: "GROUP,...", help: "Add these supplementary groups (names from /etc/group, or gids).",
		set: func(o *options, v string) error {
			return eachItem(v, func(g string) error {
				if g == "" {
					return errors.New("empty group name")
				}
				o.AddGroups = append(o.AddGroups, g)
				return nil
			})
		}},
	{name: "login-env", help: "Also set USER, LOGNAME and SHELL from the user's passwd entry.",
		set: func(o *options, _ string) error { o.Env.Login = true; return nil }},
	{name: "keep-home", help: "Keep the caller's HOME instead of setting the user's.",
		set: func(o *options, _ string) error { o.Env.KeepHome = true; return nil }},
	{name: "pdeathsig", value: "SIGNAL", help: "Send SIGNAL (TERM, 9, ...) to COMMAND when gosu's parent exits.",
		set: func(o *options, v string) error {
			if o.ParentDeathSig = signame.Parse(v); o.ParentDeathSig == 0 {
				return errors.New("unknown signal " + errs.Quote(v))
			}
			return nil
		}},
	{name: "init", help: "Stay as a minimal init (like tini): reap zombies, forward signals,\nexit with COMMAND's status, and give leftovers SIGTERM, then SIGKILL.",
		set: func(o *options, _ string) error { o.Init = true; return nil }},
	{name: "init-pgroup", needs: "init", help: "With --init: signal COMMAND's whole process group (tini -g).",
		set: func(o *options, _ string) error { o.InitPGroup = true; return nil }},
	{name: "init-success", needs: "init", value: "CODE,...", help: "With --init: exit 0 for these exit codes of COMMAND (tini -e).",
		set: func(o *options, v string) error {
			return eachItem(v, func(s string) error {
				n, err := strconv.Atoi(s)
				if err != nil || n < 0 || n > 255 {
					return errors.New("not an exit code (0-255): " + errs.Quote(s))
				}
				o.InitSuccess = append(o.InitSuccess, n)
				return nil
			})
		}},
	{name: "init-grace", needs: "init", value: "SECONDS", help: "With --init: seconds between SIGTERM and SIGKILL (default 5).",
		set: func(o *options, v string) error {
			d, ok := parseSeconds(v)
			if !ok {
				return errors.New("not a number of seconds from 0 to 3600: " + errs.Quote(v))
			}
			o.InitGrace = d
			return nil
		}},
	{name: "chown", value: "PATH", help: "Before the switch, give PATH and all under it to the user and group,\nsafely: no symlink followed (in PATH or below), no mount entered, no\noutside hard link changed, only what is not right yet; what the kernel\nrefuses to change is left and listed. Not / (see below). Repeatable.",
		set: func(o *options, v string) error {
			if v == "" {
				return errors.New("empty path")
			}
			o.Chown = append(o.Chown, v)
			return nil
		}},
	{name: "chown-from", needs: "chown", value: "UID:GID", help: "With --chown: change the owner only where it is UID, the group only\nwhere it is GID, each apart (fixuid's way); with one part empty, only\nentries matching the other change (chown --from's way).",
		set: func(o *options, v string) error {
			u, g, ok := strings.Cut(v, ":")
			if !ok {
				return errors.New("UID:GID expected")
			}
			o.ChownFromSet = true
			var err error
			if o.ChownFromUID, err = optionalID(u); err == nil {
				o.ChownFromGID, err = optionalID(g)
			}
			return err
		}},
	{name: "add-user", value: "NAME", optional: true, help: "If the uid has no passwd entry, add one (NAME, or user<UID>), a group\nif the gid has none, and a home, with locked, atomic writes.",
		set: func(o *options, v string) error { o.AddUser, o.AddUserName = true, v; return nil }},
	{name: "remap-user", value: "NAME", help: "Give NAME's passwd entry the uid and gid of USER-SPEC (UID:GID or\n/PATH), keeping its name, home, shell and groups (usermod -u,\ngroupmod -g); re-own its home, and --chown paths, from its old ids;\nrun as NAME. Root, ids 0 and another entry's uid are refused.",
		set: func(o *options, v string) error {
			if v == "" {
				return errors.New("empty user name")
			}
			o.RemapUser = v
			return nil
		}},
	{name: "allow-duplicate-uid", needs: "remap-user", help: "With --remap-user: let NAME have a uid another entry has (usermod -o).",
		set: func(o *options, _ string) error { o.AllowDupUID = true; return nil }},
	{name: "allow-chown-root-dir", needs: "chown", help: "With --chown: let PATH be the root directory, which gives away the\nwhole root file system.",
		set: func(o *options, _ string) error { o.ChownRootDir = true; return nil }},
	{name: "follow-root-symlinks", help: "Let --chown's PATH, a /PATH user spec and --landlock-* paths go\nthrough symbolic links only root can have made: owned by root, in\ndirectories that from / down only root can change (/var/run -> /run).",
		set: func(o *options, _ string) error { o.FollowRootSymlinks = true; return nil }},
	{name: "allow-root-owner", help: "With a /PATH user spec: allow PATH's owner (and group) to be root.",
		set: func(o *options, _ string) error { o.AllowRootOwner = true; return nil }},
	{name: "allow-root-group", help: "With a /PATH user spec: allow PATH's group to be root (files owned\nUID:0, as on OpenShift), but not its owner.",
		set: func(o *options, _ string) error { o.AllowRootGroup = true; return nil }},
	{name: "landlock-write", value: "PATH,...", help: "COMMAND may create, remove, rename, write and truncate files only\nbeneath these paths (Landlock, after the switch; each must exist and\nbe reached through no symbolic link). Reading elsewhere stays allowed.\nRepeatable. Sets no_new_privs.",
		set: func(o *options, v string) error { return landlock.AddPaths(&o.Landlock.Write, v) }},
	{name: "landlock-read", value: "PATH,...", help: "COMMAND may read and execute only beneath these paths and those of\n--landlock-write (a dynamic program needs /usr,/etc/ld.so.cache).",
		set: func(o *options, v string) error { return landlock.AddPaths(&o.Landlock.Read, v) }},
	{name: "landlock-best-effort", help: "Where the kernel has no Landlock, run COMMAND without it, with a\nwarning, instead of refusing to run.",
		set: func(o *options, _ string) error { o.Landlock.BestEffort = true; return nil }},
	{name: "explain", value: "json", optional: true, help: "Print what gosu would do instead of doing it (JSON with =json).",
		set: func(o *options, v string) error {
			switch v {
			case "":
				o.explain = "text"
			case "json", "text":
				o.explain = v
			default:
				return errors.New("format must be text or json")
			}
			return nil
		}},
	{name: plan.ResolvedOption, value: "PLAN", hidden: true,
		set: func(o *options, v string) error { o.resolved = v; return nil }},
}

// parseSeconds reads a number of seconds from 0 to 3600 with at most three
// decimals ("5", "0.25"). (strconv.ParseFloat would cost 13 KB of the size
// budget for this one option.)
// eachItem calls f with each comma-separated item of v ("" is one empty
// item), until f fails. (A loop over strings.SplitSeq costs a closure per
// call site, a few hundred bytes of the size budget.)
func eachItem(v string, f func(string) error) error {
	for {
		item, rest, more := strings.Cut(v, ",")
		if err := f(item); err != nil || !more {
			return err
		}
		v = rest
	}
}

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
	var given []string // names, in order
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
		if err := opt.set(&o, val); err != nil {
			return o, nil, usageError("option '--" + name + "': " + err.Error())
		}
		given = append(given, name)
	}
	for _, name := range given {
		if need := lookupOption(name).needs; need != "" && !slices.Contains(given, need) {
			return o, nil, usageError("option '--" + name + "' needs '--" + need + "'")
		}
	}
	switch {
	case o.resolved != "" && len(given) > 1:
		return o, nil, usageError("option '--" + plan.ResolvedOption + "' is for gosu's own use and goes alone")
	case o.PTY && o.DetachTTY:
		return o, nil, usageError("options '--pty' and '--detach-tty' exclude each other")
	case o.Landlock.BestEffort && len(o.Landlock.Write)+len(o.Landlock.Read) == 0:
		return o, nil, usageError("option '--landlock-best-effort' needs '--landlock-write' or '--landlock-read'")
	case o.AddUser && o.RemapUser != "":
		return o, nil, usageError("options '--add-user' and '--remap-user' exclude each other")
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
