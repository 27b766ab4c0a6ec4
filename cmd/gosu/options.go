package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
	"gosu/internal/environ"
)

// options are the settings given before the user spec.
type options struct {
	detachTTY    bool
	pty          bool
	noNewPrivs   bool
	keepCaps     uint64
	dropBounding bool
	closeFDs     bool
	keepFDs      []int
	keepGroups   bool
	addGroups    []string
	env          environ.Options
	pdeathsig    syscall.Signal
	explain      string   // "", "text" or "json"
	words        []string // the option words as given, for the --pty child
	keepFDsGiven bool
}

// option is one "--name" or "--name=value" word. Options exist only before
// the user spec and only in this long form, which can never be a user name,
// so "gosu USER CMD" reads exactly as upstream.
type option struct {
	name     string
	value    string // placeholder shown in --help when the option takes a value; "" when it takes none
	optional bool   // the value may be left out
	help     string
	set      func(o *options, v string) error
}

var optionTable = []option{
	{name: "detach-tty", help: "Detach COMMAND from the controlling terminal (setsid, or TIOCNOTTY\nwhen gosu leads its process group), so that it cannot push input into\nthe caller's shell with TIOCSTI. Stdio and the PID stay; job control goes.",
		set: func(o *options, _ string) error { o.detachTTY = true; return nil }},
	{name: "pty", help: "Run COMMAND on a new pseudo-terminal, in its own session, as the user.\ngosu stays as a small parent (same credentials) that relays the\nterminal in raw mode, window size and signals, and exits with\nCOMMAND's status (128+N for signal N). Stdio that is not a terminal\nis passed through as it is.",
		set: func(o *options, _ string) error { o.pty = true; return nil }},
	{name: "no-new-privs", help: "Set no_new_privs: no exec by COMMAND or its children gains privileges\n(setuid bits and file capabilities are ignored).",
		set: func(o *options, _ string) error { o.noNewPrivs = true; return nil }},
	{name: "keep-caps", value: "CAP,...", help: "Keep these capabilities (capabilities(7) names, with or without\nCAP_, any case) across the switch to a non-root user, as ambient\ncapabilities: e.g. --keep-caps=net_bind_service for a server on\nport 80. CAP_SETUID cannot be kept.",
		set: func(o *options, v string) error {
			m, err := caps.Parse(v)
			if err == nil && m&caps.Setuid != 0 {
				err = errors.New("CAP_SETUID cannot be kept: it would let COMMAND become root again")
			}
			o.keepCaps = m
			return err
		}},
	{name: "drop-bounding", help: "Drop every capability not named by --keep-caps from the bounding\nset, so no later exec (setuid or file capabilities) can gain it.",
		set: func(o *options, _ string) error { o.dropBounding = true; return nil }},
	{name: "close-fds", help: "Close every inherited file descriptor above 2 (at exec: close_range\nwith CLOSE_RANGE_CLOEXEC, or one fcntl each on older kernels).",
		set: func(o *options, _ string) error { o.closeFDs = true; return nil }},
	{name: "keep-fds", value: "FD,...", help: "With --close-fds: keep these descriptors open.",
		set: func(o *options, v string) error {
			for f := range strings.SplitSeq(v, ",") {
				fd, err := strconv.Atoi(f)
				if err != nil || fd < 0 {
					return errors.New("not a file descriptor number: " + strconv.Quote(f))
				}
				o.keepFDs = append(o.keepFDs, fd)
			}
			o.keepFDsGiven = true
			return nil
		}},
	{name: "keep-groups", help: "Keep the supplementary groups gosu was started with (docker run\n--group-add, Kubernetes supplementalGroups) besides the user's.",
		set: func(o *options, _ string) error { o.keepGroups = true; return nil }},
	{name: "add-groups", value: "GROUP,...", help: "Add these supplementary groups (names from /etc/group, or gids).",
		set: func(o *options, v string) error {
			for g := range strings.SplitSeq(v, ",") {
				if g == "" {
					return errors.New("empty group name")
				}
				o.addGroups = append(o.addGroups, g)
			}
			return nil
		}},
	{name: "login-env", help: "Also set USER, LOGNAME and SHELL from the user's passwd entry (for a\nuid without one, USER and LOGNAME are the number; SHELL is left).",
		set: func(o *options, _ string) error { o.env.Login = true; return nil }},
	{name: "keep-home", help: "Keep the caller's HOME instead of setting the user's.",
		set: func(o *options, _ string) error { o.env.KeepHome = true; return nil }},
	{name: "pdeathsig", value: "SIGNAL", help: "Send SIGNAL (TERM, SIGKILL, 9, ...) to COMMAND when gosu's parent\nexits. Set after the switch, since the kernel clears it on every\ncredential change.",
		set: func(o *options, v string) error {
			o.pdeathsig = parseSignal(v)
			if o.pdeathsig == 0 {
				return errors.New("unknown signal " + strconv.Quote(v))
			}
			return nil
		}},
	{name: "explain", value: "json", optional: true, help: "Print what gosu would do (identity, environment, capabilities,\nterminal, fds) instead of doing it; as JSON with --explain=json.",
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
	var o options
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
		o.words = append(o.words, word)
	}
	switch {
	case o.keepFDsGiven && !o.closeFDs:
		return o, nil, usageError("option '--keep-fds' needs '--close-fds'")
	case o.pty && o.detachTTY:
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
