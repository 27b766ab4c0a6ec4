// Package explain describes what gosu is about to do to the process, for
// --explain, in words or as JSON (written by hand: encoding/json alone would
// break the binary's size budget).
package explain

import (
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"gosu/internal/caps"
	"gosu/internal/drop"
	"gosu/internal/environ"
	"gosu/internal/spec"
)

// Plan is everything gosu would do for one invocation.
type Plan struct {
	Command  []string
	Identity spec.Identity
	Target   drop.Target
	Env      []environ.Change
	Caller   []string // the caller's environment, to show what changes
	TTY      string   // "shared", "detach" or "pty"
	CloseFDs bool
	KeepFDs  []int
}

func ttyText(mode string) string {
	switch mode {
	case "detach":
		return "detached: COMMAND has no controlling terminal; stdio and PID stay"
	case "pty":
		return "new pseudo-terminal in a new session, relayed by a gosu parent that keeps its credentials"
	}
	return "shared with the caller (COMMAND could push input into it with TIOCSTI)"
}

// Text describes p in words, one "key: value" line per aspect.
func Text(p Plan) string {
	t := p.Target
	var rows [][2]string
	line := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	line("command:", strings.Join(shellWords(p.Command), " ")+" (looked up in PATH as the user)")
	name := "no passwd entry"
	if p.Identity.Name != "" {
		name = p.Identity.Name
	}
	line("user:", "uid "+utoa(t.UID)+" ("+name+")")
	line("group:", "gid "+utoa(t.GID))
	line("groups:", list(uints(t.Groups), " ", "none"))
	env := "the caller's, unchanged"
	if len(p.Env) > 0 {
		env = "the caller's, but"
	}
	line("environment:", env)
	for _, c := range p.Env {
		was := "unset"
		if v, ok := environ.Get(p.Caller, c.Name); ok {
			was = strconv.Quote(v)
		}
		line("", c.Name+"="+strconv.Quote(c.Value)+" (caller: "+was+")")
	}
	kept := list(caps.Names(t.KeepCaps), " ", "none")
	switch {
	case t.UID == 0:
		line("capabilities:", "root's, unchanged")
	default:
		line("capabilities:", kept+" (effective, permitted, inheritable, ambient)")
	}
	bounding := "unchanged"
	if t.LimitBounding {
		bounding = kept + " (every other capability dropped)"
	}
	line("bounding set:", bounding)
	line("no_new_privs:", strconv.FormatBool(t.NoNewPrivs))
	line("terminal:", ttyText(p.TTY))
	fds := "passed on"
	if p.CloseFDs {
		fds = "closed above 2, except: " + list(ints(p.KeepFDs), " ", "none")
	}
	line("inherited fds:", fds)
	line("pdeathsig:", list([]string{signalName(t.ParentDeathSignal)}, "", "none"))
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r[0] + "               "[len(r[0]):] + r[1] + "\n")
	}
	return b.String()
}

// JSON describes p as one JSON object.
func JSON(p Plan) string {
	t := p.Target
	var b strings.Builder
	field := func(k, v string) {
		if b.Len() > 0 {
			b.WriteString(",")
		} else {
			b.WriteString("{")
		}
		b.WriteString(str(k) + ":" + v)
	}
	field("command", array(p.Command, str))
	field("uid", utoa(t.UID))
	field("user", nullable(p.Identity.Name))
	field("gid", utoa(t.GID))
	field("groups", "["+strings.Join(uints(t.Groups), ",")+"]")
	var env []string
	for _, c := range p.Env {
		env = append(env, str(c.Name)+":"+str(c.Value))
	}
	field("env", "{"+strings.Join(env, ",")+"}")
	capNames := caps.Names(t.KeepCaps)
	if t.UID == 0 {
		capNames = nil
	}
	field("ambient_caps", array(capNames, str))
	if t.LimitBounding {
		field("bounding_set", array(caps.Names(t.KeepCaps), str))
	} else {
		field("bounding_set", "null")
	}
	field("no_new_privs", strconv.FormatBool(t.NoNewPrivs))
	field("tty", str(p.TTY))
	field("close_fds", strconv.FormatBool(p.CloseFDs))
	field("keep_fds", "["+strings.Join(ints(p.KeepFDs), ",")+"]")
	field("pdeathsig", nullable(signalName(t.ParentDeathSignal)))
	return b.String() + "}\n"
}

func signalName(s syscall.Signal) string {
	if s == 0 {
		return ""
	}
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return strconv.Itoa(int(s))
}

// shellWords quotes the words that a shell would not read back as one.
func shellWords(a []string) []string {
	out := make([]string, len(a))
	for i, w := range a {
		out[i] = w
		if w == "" || strings.ContainsAny(w, " \t\n\"'\\$`;&|<>()*?[]{}~#") {
			out[i] = strconv.Quote(w)
		}
	}
	return out
}

func uints(a []uint32) []string {
	out := make([]string, len(a))
	for i, u := range a {
		out[i] = utoa(u)
	}
	return out
}

func ints(a []int) []string {
	out := make([]string, len(a))
	for i, n := range a {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func utoa(u uint32) string { return strconv.FormatUint(uint64(u), 10) }

// list joins a with sep, or gives none when a is empty or only "".
func list(a []string, sep, none string) string {
	if s := strings.Join(a, sep); s != "" {
		return s
	}
	return none
}

func nullable(s string) string {
	if s == "" {
		return "null"
	}
	return str(s)
}

func array(a []string, enc func(string) string) string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = enc(s)
	}
	return "[" + strings.Join(out, ",") + "]"
}

// str encodes s as a JSON string; bytes that are not UTF-8 become U+FFFD.
func str(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteByte('"')
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00` + string(hex[r>>4]) + string(hex[r&0xf]))
		default:
			b.WriteRune(r) // RuneError for invalid bytes: U+FFFD
		}
	}
	b.WriteByte('"')
	return b.String()
}
