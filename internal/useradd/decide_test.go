package useradd

import (
	"errors"
	"strings"
	"testing"

	"gosu/internal/account"
)

// mem is account files held in memory, for the decisions alone; a shadow
// of "" is one that cannot be used.
func mem(passwd, group, shadow string) *contents {
	return &contents{
		passwd: accountFile{path: "/etc/passwd", data: []byte(passwd), usable: true},
		group:  accountFile{path: "/etc/group", data: []byte(group), usable: true},
		shadow: accountFile{path: "/etc/shadow", data: []byte(shadow), usable: shadow != ""},
	}
}

// apply makes p's changes in c, as the writers do, in memory.
func (c *contents) apply(p *Plan) {
	for i, ch := range [...]*Change{p.Changes.Passwd, p.Changes.Group, p.Changes.Shadow} {
		if ch != nil {
			a := c.files()[i]
			a.data = edited(a.data, ch)
		}
	}
}

// The image of a LinuxServer.io container: abc with its own group, home
// /config, a member of users; ubuntu at uid 1000.
const (
	lsPasswd = "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n" +
		"abc:x:911:911::/config:/bin/false\n" +
		"toor:x:0:0::/root:/bin/sh\n" +
		"shared:x:912:50::/:/bin/sh\n"
	lsGroup = "root:x:0:\n" +
		"daemon:x:1:\n" +
		"staff:x:50:\n" +
		"users:x:100:abc\n" +
		"abc:x:911:\n" +
		"ubuntu:x:1000:\n"
)

// TestDecideRemap pins --remap-user's decisions (issue 16): what changes,
// and every refusal with the words that say what to do.
func TestDecideRemap(t *testing.T) {
	for _, tc := range []struct {
		name          string
		passwd, group string
		r             Remap
		want          summary
		err           string
		kind          error
	}{
		{"LinuxServer PUID/PGID: the entry and abc's own group change", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1001, GID: 1001},
			summary{Name: "abc", Group: "abc", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1001:1001::/config:/bin/false", GroupLine: "abc:x:911: => abc:x:1001:"}, "", nil},
		{"PGID=100: users is used as it is", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1001, GID: 100},
			summary{Name: "abc", Group: "users", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1001:100::/config:/bin/false"}, "", nil},
		{"only the uid changes", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1001, GID: 911},
			summary{Name: "abc", Group: "abc", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1001:911::/config:/bin/false"}, "", nil},
		{"already so: nothing", strings.Replace(lsPasswd, ":911:911:", ":1001:1001:", 1), strings.Replace(lsGroup, ":911:", ":1001:", 1),
			Remap{Name: "abc", UID: 1001, GID: 1001}, summary{Name: "abc", Group: "abc", Home: "/config", Shell: "/bin/false"}, "", nil},
		{"a primary group others share keeps its gid: a new group", lsPasswd + "other:x:913:911::/:/bin/sh\n", lsGroup,
			Remap{Name: "abc", UID: 1001, GID: 1001}, summary{Name: "abc", Group: "group1001", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1001:1001::/config:/bin/false", GroupLine: "group1001:x:1001:"}, "", nil},
		{"a primary group of another name is not renumbered: abc is added", strings.Replace(lsPasswd, ":911:911:", ":911:50:", 1),
			strings.Replace(lsGroup, "abc:x:911:\n", "", 1), Remap{Name: "shared", UID: 1001, GID: 1001},
			summary{Name: "shared", Group: "shared", Home: "/", Shell: "/bin/sh",
				Passwd: "shared:x:912:50::/:/bin/sh => shared:x:1001:1001::/:/bin/sh", GroupLine: "shared:x:1001:"}, "", nil},
		{"CRLF: the line ending stays", strings.ReplaceAll(lsPasswd, "\n", "\r\n"), lsGroup, Remap{Name: "abc", UID: 1001, GID: 100},
			summary{Name: "abc", Group: "users", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1001:100::/config:/bin/false"}, "", nil},
		{"ids at 2^31 and 2^32-2", lsPasswd, lsGroup, Remap{Name: "abc", UID: 2147483648, GID: 4294967294},
			summary{Name: "abc", Group: "abc", Home: "/config", Shell: "/bin/false",
				Passwd:    "abc:x:911:911::/config:/bin/false => abc:x:2147483648:4294967294::/config:/bin/false",
				GroupLine: "abc:x:911: => abc:x:4294967294:"}, "", nil},
		{"a NUL makes another name", strings.Replace(lsPasswd, "abc:", "abc\x00:", 1) + "abc:x:913:913::/c:/bin/sh\n", lsGroup,
			Remap{Name: "abc", UID: 1001, GID: 100}, summary{Name: "abc", Group: "users", Home: "/c", Shell: "/bin/sh",
				Passwd: "abc:x:913:913::/c:/bin/sh => abc:x:1001:100::/c:/bin/sh"}, "", nil},
		{"with the override, a uid another entry has", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1000, GID: 1000, AllowDuplicateUID: true},
			summary{Name: "abc", Group: "ubuntu", Home: "/config", Shell: "/bin/false",
				Passwd: "abc:x:911:911::/config:/bin/false => abc:x:1000:1000::/config:/bin/false"}, "", nil},

		{"missing", lsPasswd, lsGroup, Remap{Name: "docker", UID: 1001, GID: 1001}, summary{},
			`no user "docker" in /etc/passwd; --add-user=docker adds a user of that name`, ErrNoUser},
		{"only on a malformed line", lsPasswd + "docker:x:oops:1::/:/bin/sh\n", lsGroup, Remap{Name: "docker", UID: 1001, GID: 1001}, summary{},
			`no user "docker" in /etc/passwd (/etc/passwd:7 has that name but is malformed: uid "oops" is not a decimal number in 0-4294967294); --add-user=docker adds a user of that name`, ErrNoUser},
		{"two lines with the name", lsPasswd + "abc:x:0:0::/:/bin/sh\n", lsGroup, Remap{Name: "abc", UID: 1001, GID: 1001}, summary{},
			`/etc/passwd:4 and line 7 both have the name "abc": remove one, so that every reader agrees which is "abc"`, ErrConflict},
		{"a malformed second line with the name", lsPasswd + "abc\n", lsGroup, Remap{Name: "abc", UID: 1001, GID: 1001}, summary{},
			`/etc/passwd:4 and line 7 both have the name "abc": remove one, so that every reader agrees which is "abc"`, ErrConflict},
		{"root", lsPasswd, lsGroup, Remap{Name: "root", UID: 1001, GID: 1001}, summary{},
			`"root" has uid 0: root's ids are never changed`, ErrInvalid},
		{"another uid-0 entry", lsPasswd, lsGroup, Remap{Name: "toor", UID: 1001, GID: 1001}, summary{},
			`"toor" has uid 0: root's ids are never changed`, ErrInvalid},
		{"target uid 0", lsPasswd, lsGroup, Remap{Name: "abc", UID: 0, GID: 1001}, summary{},
			`uid and gid 0 are root's: give "abc" the ids COMMAND should run as`, ErrInvalid},
		{"target gid 0", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1001, GID: 0}, summary{},
			`uid and gid 0 are root's: give "abc" the ids COMMAND should run as`, ErrInvalid},
		{"(uid_t)-1", lsPasswd, lsGroup, Remap{Name: "abc", UID: 4294967295, GID: 1001}, summary{},
			`invalid id 4294967295: uids and gids must be in range 0-4294967294`, ErrInvalid},
		{"a uid another entry has (ubuntu's 1000)", lsPasswd, lsGroup, Remap{Name: "abc", UID: 1000, GID: 1000}, summary{},
			`uid 1000 belongs to "ubuntu" (/etc/passwd:3); --allow-duplicate-uid gives it to "abc" too, as usermod -o does, or remove that user from the image`, ErrUIDTaken},
		{"a 2 MiB line", lsPasswd + strings.Repeat("x", 2<<20) + "\n", lsGroup, Remap{Name: "abc", UID: 1001, GID: 1001}, summary{},
			`/etc/passwd:7: line longer than 1048576 bytes`, account.ErrLineTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Plan
			err := decideRemap(mem(tc.passwd, tc.group, ""), &tc.r, &p)
			switch {
			case tc.err != "":
				if err == nil || err.Error() != tc.err || !errors.Is(err, tc.kind) {
					t.Errorf("error %v; want %s", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if summarize(&p) != tc.want {
				t.Errorf("decideRemap =\n%+v\nwant\n%+v", summarize(&p), tc.want)
			}
			if (p.Shares != "") != tc.r.AllowDuplicateUID {
				t.Errorf("Shares = %q", p.Shares)
			}
		})
	}
}

// decide is the decision a fuzz input asks for.
func decide(c *contents, remap bool, name string, uid, gid uint32) (*Plan, error) {
	p := &Plan{add: &Request{UID: uid, GID: gid, Name: name, Home: "/"}}
	if remap {
		p = &Plan{remap: &Remap{Name: name, UID: uid, GID: gid, AllowDuplicateUID: uid&1 == 0}}
	}
	return p, p.decide(c)
}

// FuzzDecide runs both decisions on any file contents (its seeds run as
// ordinary tests). Whatever they decide must be well-formed, touch only the
// line it names, and be final: decided again on the files with the
// changes made, nothing is left to change, so a second start writes
// nothing.
func FuzzDecide(f *testing.F) {
	seeds := []struct {
		passwd, group, shadow string
	}{
		{lsPasswd, lsGroup, "abc:!:19000:0:99999:7:::\n"},
		{basePasswd, baseGroup, baseShadow},
		{strings.ReplaceAll(lsPasswd, "\n", "\r\n"), strings.TrimSuffix(lsGroup, "\n"), ""},
		{"#abc:x:0:0:::\n\nabc:x:5:5::/h:/bin/sh\n", "abc\ngroup7:x:8:\n", "user7:pw:1::::::\n"},
		{"abc:x:5:5::/h:/bin/sh\nabc:x:6:6:::\n", "", ""},
		{"a:x:1:2::/:/bin/sh\nb:x:3:2::/:/bin/sh", "a:x:2:\nb:x:3:", "a:*:1:::::::\n"},
	}
	for _, s := range seeds {
		for _, name := range []string{"abc", "user7", "a", ""} {
			f.Add(s.passwd, s.group, s.shadow, true, name, uint32(7), uint32(7))
			f.Add(s.passwd, s.group, s.shadow, false, name, uint32(7), uint32(8))
			f.Add(s.passwd, s.group, s.shadow, true, name, uint32(1000), uint32(100))
		}
	}
	f.Fuzz(func(t *testing.T, passwd, group, shadow string, remap bool, name string, uid, gid uint32) {
		c := mem(passwd, group, shadow)
		p, err := decide(c, remap, name, uid, gid)
		if err != nil {
			return
		}
		for i, ch := range [...]*Change{p.Changes.Passwd, p.Changes.Group, p.Changes.Shadow} {
			if ch == nil {
				continue
			}
			data := string(c.files()[i].data)
			if ch.Old != "" && data[ch.off:ch.off+len(ch.Old)] != ch.Old {
				t.Fatalf("change %d replaces %q at %d, where the file has %q", i, ch.Old, ch.off, data[ch.off:])
			}
			// A changed line keeps its other bytes, a "\r" inside a field
			// (data, docs/accounts.md) among them; nothing may end a line.
			if strings.Contains(ch.Line, "\n") || strings.Count(ch.Line, "\r") != strings.Count(ch.Old, "\r") ||
				strings.HasSuffix(ch.Line, "\r") && !strings.HasSuffix(ch.Old, "\r") {
				t.Fatalf("change %d: %q spans lines", i, ch.Line)
			}
			var perr error
			switch i {
			case 0:
				var u account.User
				u, perr = account.ParseUser([]byte(ch.Line))
				if perr == nil && (u.UID != uid || u.GID != gid || u.Name != p.Name) {
					t.Fatalf("passwd line %q for %s %d:%d", ch.Line, p.Name, uid, gid)
				}
			case 1:
				var g account.Group
				g, perr = account.ParseGroup([]byte(ch.Line))
				if perr == nil && g.GID != gid {
					t.Fatalf("group line %q for gid %d", ch.Line, gid)
				}
			}
			if perr != nil {
				t.Fatalf("change %d: %q is malformed: %v", i, ch.Line, perr)
			}
		}
		c.apply(p)
		q, err := decide(c, remap, name, uid, gid)
		if err != nil || q.Changes != (Changes{}) {
			t.Fatalf("decided again after %+v: %+v, %v\npasswd %q\ngroup %q", summarize(p), summarize(q), err, c.passwd.data, c.group.data)
		}
		if remap && (q.Name != name || p.Home != q.Home) || !remap && (!q.Found || q.Name != p.Name || q.Home != p.Home) {
			t.Fatalf("decided again: %+v; first %+v", summarize(q), summarize(p))
		}
	})
}

// TestDecideAddMalformed walks --add-user over the malformed data of
// docs/accounts.md: every line that has the name blocks it, a 2 MiB line
// stops the decision, and CRLF and NUL are data.
func TestDecideAddMalformed(t *testing.T) {
	for _, tc := range []struct {
		passwd, err string
		kind        error
	}{
		{"app:x:1:1::/:/bin/sh\r\nuser7:x:8:8::/:/bin/sh\r\n", `cannot add uid 7 as "user7": /etc/passwd:2 gives that name to uid 8; choose another name`, ErrConflict},
		{"user7\n", `cannot add uid 7 as "user7": /etc/passwd:1 has that name but is malformed (1 field instead of 7); choose another name`, ErrConflict},
		{"user7:x::0::/root:/bin/sh\n", `cannot add uid 7 as "user7": /etc/passwd:1 has that name but is malformed (uid "" is not a decimal number in 0-4294967294); choose another name`, ErrConflict},
		{"x:x:1:1:" + strings.Repeat("g", 2<<20) + ":/:/bin/sh\n", `/etc/passwd:1: line longer than 1048576 bytes`, account.ErrLineTooLong},
		{"user7\x00:x:0:0::/:/bin/sh\n#user7:x:0:0::/:/bin/sh\n", "", nil},
	} {
		var p Plan
		err := decideAdd(mem(tc.passwd, "g:x:7:\n", ""), &Request{UID: 7, GID: 7, Home: "/"}, 1, &p)
		if tc.err == "" && (err != nil || p.Changes.Passwd == nil || p.Changes.Passwd.Line != "user7:*:7:7::/:/bin/sh") {
			t.Errorf("%.40q: %+v, %v", tc.passwd, summarize(&p), err)
		}
		if tc.err != "" && (err == nil || err.Error() != tc.err || !errors.Is(err, tc.kind)) {
			t.Errorf("%.40q: %v\nwant %s", tc.passwd, err, tc.err)
		}
	}
}

// TestDecideLeadingBlanks: glibc skips the blanks that lead a line, so
// " app:x:0:0::/root:/bin/sh" is app, uid 0, to su, cron and sshd (seen with
// getent and su on Debian 12). Adding a second app line after it, or
// remapping another app line, would leave the name root's to all of them:
// the blank-led line has the name for every decision.
func TestDecideLeadingBlanks(t *testing.T) {
	add := func(passwd, group, shadow string) error {
		var p Plan
		return decideAdd(mem(passwd, group, shadow), &Request{UID: 7, GID: 8, Name: "app", Home: "/"}, 1, &p)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{add(" app:x:0:0::/root:/bin/sh\n", "", ""), `cannot add uid 7 as "app": /etc/passwd:1 gives that name to uid 0; choose another name`},
		{add("\t\v\f\rapp:x:0:0::/root:/bin/sh\n", "", ""), `cannot add uid 7 as "app": /etc/passwd:1 gives that name to uid 0; choose another name`},
		{add("", " app:x:0:\n", ""), `cannot add gid 8 as "app": /etc/group:1 gives that name to gid 0; choose another name`},
		{add("", "", " app:$6$salt$hash:19000:0:99999:7:::\n"), `cannot add uid 7 as "app": /etc/shadow:1 still has a password for that name, which the new account would get; choose another name`},
		{add("", "", "  app:!:19000:0:99999:7:::\n"), ""}, // locked: reused
	} {
		if got := errText(tc.err); got != tc.want {
			t.Errorf("add: %s\nwant %s", got, tc.want)
		}
	}
	var p Plan
	err := decideRemap(mem(" abc:x:0:0::/root:/bin/sh\n"+lsPasswd[len("root:x:0:0:root:/root:/bin/bash\n"):], lsGroup, ""), &Remap{Name: "abc", UID: 1001, GID: 1001}, &p)
	if want := `/etc/passwd:1 and line 4 both have the name "abc": remove one, so that every reader agrees which is "abc"`; errText(err) != want || !errors.Is(err, ErrConflict) {
		t.Errorf("remap: %v\nwant %s", err, want)
	}
	err = decideRemap(mem(lsPasswd+" abc:x:0:0::/root:/bin/sh\n", lsGroup, ""), &Remap{Name: "abc", UID: 1001, GID: 1001}, &p)
	if want := `/etc/passwd:4 and line 7 both have the name "abc": remove one, so that every reader agrees which is "abc"`; errText(err) != want {
		t.Errorf("remap: %v\nwant %s", err, want)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
