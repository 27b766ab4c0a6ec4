// Package explain describes what gosu is about to do to the process, for
// --explain, in words or as JSON (written by hand: encoding/json alone would
// break the binary's size budget).
package explain

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gosu/internal/caps"
	"gosu/internal/environ"
	"gosu/internal/plan"
	"gosu/internal/signame"
)

func ttyText(mode string) string {
	switch mode {
	case plan.Detach:
		return "detached: COMMAND has no controlling terminal; stdio and PID stay"
	case plan.Session:
		return "a new session without a controlling terminal, under a gosu parent that keeps the terminal"
	case plan.PTY:
		return "new pseudo-terminal in a new session, relayed by a gosu parent (uid 0, only CAP_KILL)"
	}
	return "shared with the caller (COMMAND could push input into it with TIOCSTI)"
}

// Text describes p in words, one "key: value" line per aspect.
func Text(p *plan.Plan) string {
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
	groups := list(uints(t.Groups), " ", "none")
	if p.GroupsKept {
		groups += " (the caller's, kept: only root could drop them)"
	}
	line("groups:", groups)
	env := "the caller's, unchanged"
	if len(p.Env) > 0 {
		env = "the caller's, but"
	}
	line("environment:", env)
	for _, c := range p.Env {
		was := "unset"
		if v, ok := environ.Get(p.Caller, c.Name); ok {
			was = shq(v)
		}
		line("", c.Name+"="+shq(c.Value)+" (caller: "+was+")")
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
	line("pdeathsig:", list([]string{signame.Name(t.ParentDeathSignal)}, "", "none"))
	if p.Init {
		how := "COMMAND"
		if p.InitPGroup {
			how = "COMMAND's process group"
		}
		line("init:", "a gosu parent reaps zombies and forwards signals to "+how+"; leftovers get SIGTERM, then SIGKILL after "+
			seconds(p.InitGrace)+" s")
		if len(p.InitSuccess) > 0 {
			line("", "exit codes "+list(ints(p.InitSuccess), " ", "")+" count as 0")
		}
	}
	if u := p.AddUser; u != nil {
		line("add user:", "before the switch, with locked, atomic writes:")
		if u.AddPasswd {
			line("", "/etc/passwd += "+shq(u.PasswdLine))
		}
		if u.AddGroup {
			line("", "/etc/group += "+shq(u.GroupLine))
		}
		if u.AddShadow {
			line("", "/etc/shadow += a locked entry for "+shq(u.Name))
		}
		if u.MakeHome {
			line("", "mkdir "+shq(u.Home)+" (mode 0755, owned by the user)")
		}
	}
	for _, c := range p.Chown {
		line("chown:", shq(c.Path)+" and everything under it to "+utoa(t.UID)+":"+utoa(t.GID)+from(c.FromUID, c.FromGID)+
			" (no symbolic link followed, no mount entered)")
	}
	for _, n := range p.Notes {
		line("note:", n)
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r[0] + "               "[len(r[0]):] + r[1] + "\n")
	}
	return b.String()
}

// JSON describes p as one JSON object.
func JSON(p *plan.Plan) string {
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
	field("pdeathsig", nullable(signame.Name(t.ParentDeathSignal)))
	if p.Init {
		field("init", "{"+str("pgroup")+":"+strconv.FormatBool(p.InitPGroup)+","+str("success")+":["+strings.Join(ints(p.InitSuccess), ",")+"],"+
			str("grace_seconds")+":"+seconds(p.InitGrace)+"}")
	} else {
		field("init", "null")
	}
	if u := p.AddUser; u != nil {
		field("add_user", "{"+str("passwd")+":"+nullable(cond(u.AddPasswd, u.PasswdLine))+","+str("group")+":"+nullable(cond(u.AddGroup, u.GroupLine))+
			","+str("shadow")+":"+strconv.FormatBool(u.AddShadow)+","+str("home")+":"+nullable(cond(u.MakeHome, u.Home))+"}")
	} else {
		field("add_user", "null")
	}
	var chowns []string
	for _, c := range p.Chown {
		chowns = append(chowns, "{"+str("path")+":"+str(c.Path)+","+str("from_uid")+":"+strconv.FormatInt(c.FromUID, 10)+","+
			str("from_gid")+":"+strconv.FormatInt(c.FromGID, 10)+"}")
	}
	field("chown", "["+strings.Join(chowns, ",")+"]")
	field("notes", array(p.Notes, str))
	return b.String() + "}\n"
}

// shellWords quotes, for a POSIX shell, the words it would not read back as
// they are: in single quotes, where nothing is special, with each ' written
// as '\”. (Go's strconv.Quote would leave $(...) live in double quotes.)
func shellWords(a []string) []string {
	out := make([]string, len(a))
	for i, w := range a {
		out[i] = shq(w)
	}
	return out
}

// shq quotes one word for a POSIX shell when it needs it: anything but
// plain printable ASCII without a character the shell treats specially.
func shq(w string) string {
	plain := w != ""
	for i := 0; i < len(w) && plain; i++ {
		plain = w[i] > 0x20 && w[i] < 0x7f && !strings.ContainsRune("\"'\\$`;&|<>()*?[]{}~#=%!^", rune(w[i]))
	}
	if plain {
		return w
	}
	q := []byte{'\''}
	for i := 0; i < len(w); i++ {
		if w[i] == '\'' {
			q = append(q, `'\''`...)
		} else {
			q = append(q, w[i])
		}
	}
	return string(append(q, '\''))
}

// seconds writes d in seconds with up to three decimals, as a JSON number
// (strconv.FormatFloat would cost 7 KB of the size budget).
func seconds(d time.Duration) string {
	ms := d.Milliseconds()
	s := strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight("."+strconv.FormatInt(1000+frac, 10)[1:], "0")
	}
	return s
}

// from describes a --chown-from filter.
func from(uid, gid int64) string {
	if uid < 0 && gid < 0 {
		return ""
	}
	only := func(what string, id int64) string {
		if id < 0 {
			return ""
		}
		return ", the " + what + " only where it is " + strconv.FormatInt(id, 10)
	}
	return only("owner", uid) + only("group", gid)
}

func cond(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
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
	b := []byte{'"'}
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			b = append(b, "\uFFFD"...) // an invalid byte
		default:
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return string(append(b, '"'))
}
