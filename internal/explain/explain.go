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
	"gosu/internal/errs"
	"gosu/internal/landlock"
	"gosu/internal/plan"
	"gosu/internal/signame"
	"gosu/internal/useradd"
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

// keyWidth is the column where Text's values start.
const keyWidth = 15

// Text describes p in words, one "key: value" line per aspect.
func Text(p *plan.Plan) string {
	t := p.Target
	var rows table
	line := rows.add
	line("command:", strings.Join(shellWords(p.Command), " ")+" (looked up in PATH as the user)")
	name := "no passwd entry"
	if p.Identity.Name != "" {
		name = shq(p.Identity.Name) // from /etc/passwd, which may hold any byte but ':' and '\n'
	}
	line("user:", "uid "+strconv.FormatUint(uint64(t.UID), 10)+" ("+name+")")
	line("group:", "gid "+strconv.FormatUint(uint64(t.GID), 10))
	if p.OwnerOf != "" {
		line("owner of:", shq(p.OwnerOf)+": the user and group are its owner's; "+resolvedText(p.OwnerOf, p.FollowRootSymlinks))
	}
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
	nnp := strconv.FormatBool(t.NoNewPrivs)
	if len(p.Landlock.Paths()) > 0 {
		nnp += " (Landlock needs it)"
	}
	line("no_new_privs:", nnp)
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
		accountLines(line, u)
		if u.MakeHome {
			line("", "mkdir "+shq(u.Home)+" (mode 0755, owned by the user)")
		}
	}
	for _, c := range p.Chown {
		line("chown:", shq(c.Path)+" and everything under it to "+strconv.FormatUint(uint64(t.UID), 10)+":"+strconv.FormatUint(uint64(t.GID), 10)+from(c.FromUID, c.FromGID))
		root := "; refused if it is the root directory"
		if c.RootDir {
			root = "; may be the root directory"
		}
		line("", resolvedText(c.Path, p.FollowRootSymlinks)+root)
		line("", "below it: no symbolic link followed, no mount entered; refused entries left and listed")
	}
	if u := p.RemapUser; u != nil {
		line("remap user:", shq(u.Name)+" from uid "+strconv.FormatUint(uint64(u.OldUID), 10)+" gid "+strconv.FormatUint(uint64(u.OldGID), 10)+
			", before the switch, with locked, atomic writes:")
		accountLines(line, u)
	}
	landlockText(&p.Landlock, line)
	for _, n := range p.Notes {
		line("note:", n)
	}
	return layout(rows)
}

// landlockText describes the Landlock rules: each path with the rights it
// grants (beneath it, for a directory), by the kernel's names, and what the
// kernel's ABI leaves open.
func landlockText(r *landlock.Rules, line func(k, v string)) {
	if len(r.Paths()) == 0 {
		return
	}
	if r.ABI == 0 {
		line("landlock:", "not applied: Landlock is missing here (--landlock-best-effort; see the note)")
		return
	}
	abi := "ABI " + strconv.Itoa(r.ABI)
	line("landlock:", abi+"; file-system access not granted here is denied")
	for _, pa := range r.Paths() {
		line("", errs.Quote(pa.Name)+": "+strings.Join(landlock.RightNames(pa.Access), " "))
	}
	if len(r.Scoped()) > 0 {
		line("", "signals and abstract unix sockets: only within COMMAND's own processes")
	}
	if u := landlock.Unhandled(r.ABI); len(u) > 0 {
		line("", "not restricted by "+abi+": "+strings.Join(u, ", "))
	}
}

// resolvedText says how a path given to gosu was, or will be, resolved
// (package resolve).
func resolvedText(path string, followRoot bool) string {
	if !strings.HasPrefix(path, "/") {
		// package resolve: a relative name follows no link, and its ".."
		// climbs only out of directories no user can have moved.
		return "PATH resolved from the working directory without following a symbolic link"
	}
	if followRoot {
		return "PATH resolved from / through symbolic links only root can have made"
	}
	return "PATH resolved from / without following a symbolic link"
}

// accountLines describes the lines an account plan adds or changes.
func accountLines(line func(k, v string), u *useradd.Plan) {
	for i, c := range [...]*useradd.Change{u.Changes.Passwd, u.Changes.Group, u.Changes.Shadow} {
		path := [...]string{useradd.System.Passwd, useradd.System.Group, useradd.System.Shadow}[i]
		switch {
		case c == nil:
		case i == 2:
			line("", path+" += a locked entry for "+shq(u.Name))
		case c.Old == "":
			line("", path+" += "+shq(c.Line))
		default:
			line("", path+": "+shq(c.Old)+" -> "+shq(c.Line))
		}
	}
}

// table is Text's rows, key and value.
type table [][2]string

// add appends a row. It is called, not inlined: inlined at each of Text's
// rows, the append cost 8.1 KB of the binary (measured, go1.27.3).
//
//go:noinline
func (t *table) add(k, v string) { *t = append(*t, [2]string{k, v}) }

// layout writes each row's key, then its value from column keyWidth (or
// one space after a longer key).
func layout(rows [][2]string) string {
	var b []byte
	for _, r := range rows {
		b = append(b, r[0]...)
		for pad := max(keyWidth-len(r[0]), 1); pad > 0; pad-- {
			b = append(b, ' ')
		}
		b = append(append(b, r[1]...), '\n')
	}
	return string(b)
}

// JSON describes p as one JSON object, on one line.
func JSON(p *plan.Plan) string {
	t := p.Target
	var w jsonWriter
	w.open('{')
	w.key("command")
	w.strings(p.Command)
	w.key("uid")
	w.uint(uint64(t.UID))
	w.key("user")
	w.nullable(p.Identity.Name)
	w.key("gid")
	w.uint(uint64(t.GID))
	w.key("owner_of")
	w.nullable(p.OwnerOf)
	w.key("follow_root_symlinks")
	w.bool(p.FollowRootSymlinks)
	w.key("groups")
	w.open('[')
	for _, g := range t.Groups {
		w.uint(uint64(g))
	}
	w.close(']')
	w.key("env")
	w.open('{')
	for _, c := range p.Env {
		w.key(c.Name)
		w.string(c.Value)
	}
	w.close('}')
	w.key("ambient_caps")
	if t.UID == 0 {
		w.strings(nil)
	} else {
		w.strings(caps.Names(t.KeepCaps))
	}
	w.key("bounding_set")
	if t.LimitBounding {
		w.strings(caps.Names(t.KeepCaps))
	} else {
		w.raw("null")
	}
	w.key("no_new_privs")
	w.bool(t.NoNewPrivs)
	w.key("tty")
	w.string(p.TTY)
	w.key("close_fds")
	w.bool(p.CloseFDs)
	w.key("keep_fds")
	w.ints(p.KeepFDs)
	w.key("pdeathsig")
	w.nullable(signame.Name(t.ParentDeathSignal))
	w.key("init")
	if p.Init {
		w.open('{')
		w.key("pgroup")
		w.bool(p.InitPGroup)
		w.key("success")
		w.ints(p.InitSuccess)
		w.key("grace_seconds")
		w.raw(seconds(p.InitGrace))
		w.close('}')
	} else {
		w.raw("null")
	}
	w.key("add_user")
	if u := p.AddUser; u != nil {
		w.open('{')
		w.key("passwd")
		w.nullable(added(u.Changes.Passwd))
		w.key("group")
		w.nullable(added(u.Changes.Group))
		w.key("shadow")
		w.bool(u.Changes.Shadow != nil)
		w.key("home")
		w.nullable(cond(u.MakeHome, u.Home))
		w.close('}')
	} else {
		w.raw("null")
	}
	w.key("chown")
	w.open('[')
	for _, c := range p.Chown {
		w.open('{')
		w.key("path")
		w.string(c.Path)
		w.key("from_uid")
		w.raw(strconv.FormatInt(c.FromUID, 10))
		w.key("from_gid")
		w.raw(strconv.FormatInt(c.FromGID, 10))
		w.key("root_dir")
		w.bool(c.RootDir)
		w.close('}')
	}
	w.close(']')
	w.key("remap_user")
	if u := p.RemapUser; u != nil {
		w.open('{')
		w.key("name")
		w.string(u.Name)
		w.key("old_uid")
		w.uint(uint64(u.OldUID))
		w.key("old_gid")
		w.uint(uint64(u.OldGID))
		for i, c := range [...]*useradd.Change{u.Changes.Passwd, u.Changes.Group} {
			w.key([...]string{"passwd", "group"}[i])
			if c == nil {
				w.raw("null")
				continue
			}
			w.open('{')
			w.key("old")
			w.nullable(c.Old)
			w.key("new")
			w.string(c.Line)
			w.close('}')
		}
		w.close('}')
	} else {
		w.raw("null")
	}
	w.key("landlock")
	landlockJSON(&w, &p.Landlock)
	w.key("notes")
	w.strings(p.Notes)
	w.close('}')
	return string(append(w.b, '\n'))
}

// landlockJSON writes the Landlock rules, or null without any.
func landlockJSON(w *jsonWriter, r *landlock.Rules) {
	if len(r.Paths()) == 0 {
		w.raw("null")
		return
	}
	w.open('{')
	w.key("abi")
	w.uint(uint64(r.ABI))
	w.key("paths")
	w.open('[')
	for _, pa := range r.Paths() {
		w.open('{')
		w.key("path")
		w.string(pa.Name)
		w.key("access")
		w.strings(landlock.RightNames(pa.Access))
		w.close('}')
	}
	w.close(']')
	w.key("scoped")
	w.strings(r.Scoped())
	w.close('}')
}

// jsonWriter writes JSON values one after another, with the commas
// between the members of an object and the elements of an array (encoding/json
// would cost the binary over a megabyte: docs/design.md). Its methods are
// not inlined: JSON calls them about a hundred times, and inlined copies cost
// 8,232 bytes (measured as bench/sizes.sh measures, with go1.27.3).
type jsonWriter struct {
	b     []byte
	comma bool // the next member or element needs a comma first
}

//go:noinline
func (w *jsonWriter) value() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
}

// open starts an object ('{') or an array ('[') as a value.
//
//go:noinline
func (w *jsonWriter) open(c byte) {
	w.value()
	w.b = append(w.b, c)
	w.comma = false
}

// close ends the object ('}') or array (']') opened last.
//
//go:noinline
func (w *jsonWriter) close(c byte) {
	w.b = append(w.b, c)
	w.comma = true
}

// key starts an object member; its value follows.
//
//go:noinline
func (w *jsonWriter) key(k string) {
	w.string(k)
	w.b = append(w.b, ':')
	w.comma = false
}

//go:noinline
func (w *jsonWriter) raw(v string) {
	w.value()
	w.b = append(w.b, v...)
}

//go:noinline
func (w *jsonWriter) uint(n uint64) { w.raw(strconv.FormatUint(n, 10)) }

//go:noinline
func (w *jsonWriter) bool(v bool) { w.raw(strconv.FormatBool(v)) }

// nullable writes s, or null for "".
//
//go:noinline
func (w *jsonWriter) nullable(s string) {
	if s == "" {
		w.raw("null")
		return
	}
	w.string(s)
}

//go:noinline
func (w *jsonWriter) strings(a []string) {
	w.open('[')
	for _, s := range a {
		w.string(s)
	}
	w.close(']')
}

//go:noinline
func (w *jsonWriter) ints(a []int) {
	w.open('[')
	for _, n := range a {
		w.raw(strconv.Itoa(n))
	}
	w.close(']')
}

// string writes s as a JSON string; bytes that are not UTF-8 become U+FFFD.
//
//go:noinline
func (w *jsonWriter) string(s string) {
	const hex = "0123456789abcdef"
	w.value()
	w.b = append(w.b, '"')
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == '"' || r == '\\':
			w.b = append(w.b, '\\', byte(r))
		case r < 0x20:
			w.b = append(w.b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			w.b = append(w.b, "\uFFFD"...) // an invalid byte
		default:
			w.b = append(w.b, s[:size]...)
		}
		s = s[size:]
	}
	w.b = append(w.b, '"')
}

// shellWords quotes, for a POSIX shell, the words it would not read back as
// they are (see shq). (Go's strconv.Quote would leave $(...) live in
// double quotes.)
func shellWords(a []string) []string {
	out := make([]string, len(a))
	for i, w := range a {
		out[i] = shq(w)
	}
	return out
}

// shq quotes one word for a shell when it needs it: anything but plain
// printable ASCII without a character the shell treats specially. It uses
// single quotes, where nothing is special, with each ' written as '\”;
// a word with a control character or a byte that is not UTF-8 is written
// in $'...' instead (POSIX.1-2024, bash, ksh, zsh, busybox sh; not dash
// 0.5.12), with \n, \t and \xHH escapes, so that no newline or escape
// sequence in a name reaches the terminal or forges a line of the output.
func shq(w string) string {
	plain, raw := w != "", true
	for i := 0; i < len(w); i++ {
		c := w[i]
		plain = plain && c > 0x20 && c < 0x7f && !strings.ContainsRune("\"'\\$`;&|<>()*?[]{}~#=%!^", rune(c))
		raw = raw && c >= 0x20 && c != 0x7f
	}
	if plain {
		return w
	}
	if raw && utf8.ValidString(w) {
		// (strings.ReplaceAll would add 2.7 KB: docs/design.md.)
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
	const hex = "0123456789abcdef"
	q := []byte("$'")
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c == '\n':
			q = append(q, '\\', 'n')
		case c == '\t':
			q = append(q, '\\', 't')
		case c == '\'' || c == '\\':
			q = append(q, '\\', c)
		case c < 0x20 || c >= 0x7f:
			q = append(q, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			q = append(q, c)
		}
	}
	return string(append(q, '\''))
}

// seconds writes d in seconds, as a JSON number.
func seconds(d time.Duration) string {
	// d is whole milliseconds (gosu reads no finer): integers are exact,
	// and strconv.FormatFloat's own code is not linked.
	ms := d.Milliseconds()
	s := strconv.FormatInt(ms/1000, 10)
	if ms%1000 != 0 {
		s += strings.TrimRight("."+strconv.FormatInt(1000+ms%1000, 10)[1:], "0")
	}
	return s
}

// from describes a --chown-from filter.
func from(uid, gid int64) string {
	switch {
	case uid < 0 && gid < 0:
		return ""
	case gid < 0:
		return ", only entries owned by " + strconv.FormatInt(uid, 10)
	case uid < 0:
		return ", only entries of group " + strconv.FormatInt(gid, 10)
	}
	return ", the owner only where it is " + strconv.FormatInt(uid, 10) + ", the group only where it is " + strconv.FormatInt(gid, 10)
}

// added is the line a change adds, or "" when it adds none.
func added(c *useradd.Change) string {
	if c == nil || c.Old != "" {
		return ""
	}
	return c.Line
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
		out[i] = strconv.FormatUint(uint64(u), 10)
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

// list joins a with sep, or gives none when a is empty or only "".
func list(a []string, sep, none string) string {
	if s := strings.Join(a, sep); s != "" {
		return s
	}
	return none
}
