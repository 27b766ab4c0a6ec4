package useradd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "_", "user1000680000", "app-1.x_y", "machine$", strings.Repeat("a", 32), strings.Repeat("a", 31) + "$"} {
		if !validName(ok) {
			t.Errorf("validName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "1000", "1abc", "-app", "+app", "App", "a:b", "a\nb", "a b", "$", "a$b", ".app",
		strings.Repeat("a", 33), strings.Repeat("a", 32) + "$", "é", "a\x00"} {
		if validName(bad) {
			t.Errorf("validName(%q) = true", bad)
		}
	}
}

func TestValidPath(t *testing.T) {
	for _, ok := range []string{"/", "/home/app", "/opt/app-root/src", "/bin/sh", "/a b/c"} {
		if !validPath(ok) {
			t.Errorf("validPath(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "home/app", "/home/app/", "//home", "/home/../etc", "/home/./x", "/..", "/a:b",
		"/a\nb", "/a\rb", "/a\x00b", "/a\x7fb", "/" + strings.Repeat("a", 5000)} {
		if validPath(bad) {
			t.Errorf("validPath(%q) = true", bad)
		}
	}
}

func TestInvalidRequest(t *testing.T) {
	f := newFixture(t, false)
	for _, tc := range []struct {
		r    Request
		want string
	}{
		{Request{UID: 4294967295}, "invalid id 4294967295: uids and gids must be in range 0-4294967294"},
		{Request{UID: 1, GID: 4294967295}, "invalid id 4294967295: uids and gids must be in range 0-4294967294"},
		{Request{UID: 1, Name: "Root"}, `invalid user name "Root": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)`},
		{Request{UID: 1, Name: "x:0:0::/:/bin/sh\nevil"}, `invalid user name "x:0:0::/:/bin/sh\nevil": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)`},
		{Request{UID: 1, Group: "-g"}, `invalid group name "-g": use a lower-case letter or '_', then lower-case letters, digits, '_', '.' or '-', at most 32 in all (a final '$' is allowed)`},
		{Request{UID: 1, Home: "/x:/bin/sh"}, `invalid home directory "/x:/bin/sh": it must be an absolute path without '.' or '..' parts, ':' or control characters`},
		{Request{UID: 1, Home: "/home/../etc"}, `invalid home directory "/home/../etc": it must be an absolute path without '.' or '..' parts, ':' or control characters`},
		{Request{UID: 1, Shell: "sh"}, `invalid shell "sh": it must be an absolute path without '.' or '..' parts, ':' or control characters`},
	} {
		before := snap(t, f.Passwd, f.Group)
		_, err := f.Check(tc.r)
		if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%+v) = %v; want %q", tc.r, err, tc.want)
		}
		unchanged(t, before)
	}
}

// summary is what a Plan says, in a form tests can compare: each change
// as its line, or "old => new".
type summary struct {
	Name, Group, Home, Shell string
	Found, MakeHome          bool
	Passwd, GroupLine        string
	Shadow                   bool
}

func summarize(p *Plan) summary {
	line := func(c *Change) string {
		switch {
		case c == nil:
			return ""
		case c.Old != "":
			return c.Old + " => " + c.Line
		}
		return c.Line
	}
	return summary{p.Name, p.Group, p.Home, p.Shell, p.Found, p.MakeHome, line(p.Changes.Passwd), line(p.Changes.Group), p.Changes.Shadow != nil}
}

// TestCheck pins Check's decisions; it reads only, so it runs as any user.
// "@" in a request's or plan's home stands for the fixture's directory.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shadow bool
		r      Request
		want   summary
	}{
		{"new user, new group, shadow", true, Request{UID: 1001, GID: 1001, Home: "@/home/user1001"},
			summary{Name: "user1001", Group: "user1001", Home: "@/home/user1001", Shell: "/bin/sh", MakeHome: true, Shadow: true,
				Passwd: "user1001:x:1001:1001::@/home/user1001:/bin/sh", GroupLine: "user1001:x:1001:"}},
		{"no shadow: password *", false, Request{UID: 1001, GID: 1001, Name: "web", Shell: "/bin/bash", Home: "@/w"},
			summary{Name: "web", Group: "web", Home: "@/w", Shell: "/bin/bash", MakeHome: true,
				Passwd: "web:*:1001:1001::@/w:/bin/bash", GroupLine: "web:x:1001:"}},
		{"GROUP_ID=100: users is used", true, Request{UID: 1001, GID: 100, Home: "@/etc"},
			summary{Name: "user1001", Group: "users", Home: "@/etc", Shell: "/bin/sh", Shadow: true,
				Passwd: "user1001:x:1001:100::@/etc:/bin/sh"}},
		{"OpenShift: gid 0", false, Request{UID: 1000680000, GID: 0, Home: "@/a/b/c"},
			summary{Name: "user1000680000", Group: "root", Home: "@/a/b/c", Shell: "/bin/sh", MakeHome: true,
				Passwd: "user1000680000:*:1000680000:0::@/a/b/c:/bin/sh"}},
		{"uid has an entry: nothing, whatever the name asked", true, Request{UID: 1000, GID: 1000, Name: "other"},
			summary{Name: "app", Group: "app", Home: "/home/app", Shell: "/bin/sh", Found: true}},
		// Issue 12.8: the entry's own name is its primary group's (node
		// in the node image); the new group is group<GID> ...
		{"uid has an entry, gid has none: group<GID>", true, Request{UID: 1000, GID: 1001},
			summary{Name: "app", Group: "group1001", Home: "/home/app", Shell: "/bin/sh", Found: true, GroupLine: "group1001:x:1001:"}},
		// ... or the name given, when free ...
		{"uid has an entry, gid has none, NAME given", true, Request{UID: 1000, GID: 1001, Name: "dev"},
			summary{Name: "app", Group: "dev", Home: "/home/app", Shell: "/bin/sh", Found: true, GroupLine: "dev:x:1001:"}},
		// ... and group<GID> when the name given is taken.
		{"uid has an entry, gid has none, NAME taken", true, Request{UID: 1000, GID: 1001, Name: "app"},
			summary{Name: "app", Group: "group1001", Home: "/home/app", Shell: "/bin/sh", Found: true, GroupLine: "group1001:x:1001:"}},
		{"nobody, gid 2000", true, Request{UID: 65534, GID: 2000},
			summary{Name: "nobody", Group: "group2000", Home: "/nonexistent", Shell: "/usr/sbin/nologin", Found: true, GroupLine: "group2000:x:2000:"}},
		{"explicit group name", true, Request{UID: 1001, GID: 2001, Name: "web", Group: "webgrp", Home: "/"},
			summary{Name: "web", Group: "webgrp", Home: "/", Shell: "/bin/sh", Shadow: true,
				Passwd: "web:x:1001:2001::/:/bin/sh", GroupLine: "webgrp:x:2001:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.shadow)
			at := func(s string) string { return strings.Replace(s, "@", f.dir, 1) }
			tc.r.Home = at(tc.r.Home)
			tc.want.Home, tc.want.Passwd = at(tc.want.Home), at(tc.want.Passwd)
			before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock)
			got, err := f.Check(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if summarize(got) != tc.want {
				t.Errorf("Check =\n%+v\nwant\n%+v", summarize(got), tc.want)
			}
			if got.Nothing() != (tc.r.UID == 1000 && tc.r.GID == 1000) {
				t.Errorf("Nothing() = %v", got.Nothing())
			}
			if c := got.Changes.Passwd; c != nil {
				if _, err := account.ParseUser([]byte(c.Line)); err != nil {
					t.Errorf("%q does not parse: %v", c.Line, err)
				}
			}
			if c := got.Changes.Group; c != nil {
				if _, err := account.ParseGroup([]byte(c.Line)); err != nil {
					t.Errorf("%q does not parse: %v", c.Line, err)
				}
			}
			unchanged(t, before)
		})
	}
}

// TestConflicts: a name that belongs to another id is refused with both
// ids named, and nothing is written.
func TestConflicts(t *testing.T) {
	f := newFixture(t, true)
	f.write(t, f.Passwd, basePasswd+"bad:x:oops:1::/:/bin/sh\nweb:x:1003:1003::/:/bin/sh\n", 0o644)
	f.write(t, f.Group, baseGroup+"badg:x:\nwebgrp:x:3000:\n", 0o644)
	f.write(t, f.Shadow, baseShadow+"ghost:$6$salt$hash:19000:0:99999:7:::\nempty::19000::::::\n", 0o640)
	for _, tc := range []struct {
		r    Request
		want string
	}{
		{Request{UID: 1001, GID: 1001, Name: "app"},
			`cannot add uid 1001 as "app": ` + f.Passwd + `:5 gives that name to uid 1000; choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "bad"},
			`cannot add uid 1001 as "bad": ` + f.Passwd + `:6 has that name but is malformed (uid "oops" is not a decimal number in 0-4294967294); choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "daemon"},
			`cannot add uid 1001 as "daemon": ` + f.Passwd + `:2 gives that name to uid 1; choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "web", Group: "webgrp"},
			`cannot add uid 1001 as "web": ` + f.Passwd + `:7 gives that name to uid 1003; choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "webgrp"},
			`cannot add gid 1001 as "webgrp": ` + f.Group + `:8 gives that name to gid 3000; choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "x", Group: "badg"},
			`cannot add gid 1001 as "badg": ` + f.Group + `:7 has that name but is malformed (3 fields instead of 4); choose another name`},
		{Request{UID: 1001, GID: 1001, Name: "users"}, // user names and group names are separate, but the group is named after the user
			`cannot add gid 1001 as "users": ` + f.Group + `:4 gives that name to gid 100; choose another name`},
		{Request{UID: 1001, GID: 100, Name: "ghost"},
			`cannot add uid 1001 as "ghost": ` + f.Shadow + `:6 still has a password for that name, which the new account would get; choose another name`},
		{Request{UID: 1001, GID: 100, Name: "empty"},
			`cannot add uid 1001 as "empty": ` + f.Shadow + `:7 still has a password for that name, which the new account would get; choose another name`},
	} {
		// The lock file is not an account file: Apply may create it (as
		// lckpwdf does) before it finds the conflict again under the lock.
		before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow)
		if _, err := f.Check(tc.r); err == nil || err.Error() != tc.want || !errors.Is(err, ErrConflict) {
			t.Errorf("Check(%+v) = %v\nwant %s", tc.r, err, tc.want)
		}
		// Apply decides again: a plan made before the conflict was there
		// fails the same way.
		p := &Plan{add: &tc.r, Changes: Changes{Passwd: &Change{}}}
		if err := f.Apply(p); err == nil || err.Error() != tc.want {
			t.Errorf("Apply(%+v) = %v\nwant %s", p, err, tc.want)
		}
		unchanged(t, before)
	}
}

// TestLockedShadowLeftover: a shadow line this package could have written
// before a start was stopped is reused; passwd then says "x".
func TestLockedShadowLeftover(t *testing.T) {
	f := newFixture(t, true)
	f.write(t, f.Shadow, baseShadow+"user1001:!:19000:0:99999:7:::\n", 0o640)
	p, err := f.Check(Request{UID: 1001, GID: 100, Home: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes.Shadow != nil || p.Changes.Passwd.Line != "user1001:x:1001:100::/:/bin/sh" {
		t.Errorf("Check = %+v", p)
	}
}

// TestFileAttacks: what is read must be a regular file of bounded size and
// lines; anything else is an error, at once, never an empty file.
func TestFileAttacks(t *testing.T) {
	f := newFixture(t, false)
	r := Request{UID: 1001, GID: 100, Home: "/"}
	fifo := filepath.Join(f.dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(f.dir, "sparse")
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 1<<40); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(f.dir, "unreadable")
	if err := os.WriteFile(unreadable, []byte(basePasswd), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "cannot read " + fifo + ": not a regular file"},
		{"/dev/zero", "cannot read /dev/zero: not a regular file"},
		{f.dir, "cannot read " + f.dir + ": not a regular file"},
		{sparse, "cannot read " + sparse + ": file too large"},
		{f.dir + "/missing", "cannot read " + f.dir + "/missing: no such file or directory"},
	} {
		g := f.Files
		g.Passwd = tc.path
		done := make(chan error, 1)
		go func() { _, err := g.Check(r); done <- err }()
		select {
		case err := <-done:
			if err == nil || err.Error() != tc.want {
				t.Errorf("Check with passwd %s: %v; want %q", tc.path, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Check with passwd %s hangs", tc.path)
		}
	}
	if os.Geteuid() != 0 {
		g := f.Files
		g.Passwd = unreadable
		if _, err := g.Check(r); err == nil || err.Error() != "cannot read "+unreadable+": permission denied" {
			t.Errorf("unreadable passwd: %v", err)
		}
	}
}

// TestMalformedNeverCounts: a malformed line with the uid is not an
// entry, so one is added, and gosu's lookup then finds the new one.
func TestMalformedNeverCounts(t *testing.T) {
	f := newFixture(t, false)
	f.write(t, f.Passwd, basePasswd+"#user1001:x:1001:100::/:/bin/sh\nbroken:x:1001:100\n", 0o644)
	p, err := f.Check(Request{UID: 1001, GID: 100, Home: "/"})
	if err != nil || p.Changes.Passwd == nil || p.Name != "user1001" {
		t.Fatalf("Check = %+v, %v", p, err)
	}
}

// TestLockTimeout: lckpwdf's lock held by someone else (here another open
// file description, which an OFD lock conflicts with as with lckpwdf's
// own) is waited for, then reported; nothing is written.
func TestLockTimeout(t *testing.T) {
	f := newFixture(t, false)
	fd, err := unix.Open(f.Lock, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	f.LockWait = 300 * time.Millisecond
	p, err := f.Check(Request{UID: 4242, GID: 100, Home: "/"})
	if err != nil {
		t.Fatal(err)
	}
	before := snap(t, f.Passwd, f.Group)
	start := time.Now()
	err = f.Apply(p)
	want := "cannot lock " + f.Lock + ": another process (useradd, passwd, vipw, gosu) holds the lock"
	if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Errorf("Apply = %v; want %q", err, want)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("waited %v", d)
	}
	unchanged(t, before)
}

// TestNothingWritesNothing: with nothing to do, Apply does not even create
// the lock file.
func TestNothingWritesNothing(t *testing.T) {
	f := newFixture(t, true)
	before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock, f.dir+"/etc")
	p, err := f.Check(Request{UID: 1000, GID: 100})
	if err != nil || !p.Nothing() {
		t.Fatalf("Check = %+v, %v", p, err)
	}
	if err := f.Apply(p); err != nil {
		t.Fatal(err)
	}
	unchanged(t, before)
	if _, err := os.Stat(f.Lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file: %v", err)
	}
}

// TestSelf adds the running uid, which works without root as long as the
// files are the caller's (as in a temp dir): the whole Apply path, with
// the home made, for any user running the tests.
func TestSelf(t *testing.T) {
	f := newFixture(t, true)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	f.without(t, uid, gid)
	r := Request{UID: uid, GID: gid, Name: "me", Home: f.home("me")}
	p, err := f.Check(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(p); err != nil {
		t.Fatal(err)
	}
	db := account.DB{Passwd: f.Passwd, Group: f.Group}
	u, found, err := db.UserByID(uid)
	if err != nil || !found || u != (account.User{Name: "me", UID: uid, GID: gid, Home: f.home("me"), Shell: "/bin/sh"}) {
		t.Errorf("UserByID = %+v, %v, %v", u, found, err)
	}
	if g, err := db.GroupByName("me"); err != nil || g.GID != gid {
		t.Errorf("GroupByName = %+v, %v", g, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(f.home("me"), &st); err != nil || st.Uid != uid || st.Gid != gid || st.Mode != unix.S_IFDIR|0o755 {
		t.Errorf("home: %+v, %v", st, err)
	}
	if err := unix.Lstat(filepath.Dir(f.home("me")), &st); err != nil || st.Mode != unix.S_IFDIR|0o755 {
		t.Errorf("home's parent: mode %o, %v", st.Mode, err)
	}
	before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock, f.home("me"))
	p, err = f.Check(r)
	if err != nil || !p.Nothing() {
		t.Fatalf("second Check = %+v, %v", p, err)
	}
	if err := f.Apply(p); err != nil {
		t.Fatal(err)
	}
	unchanged(t, before)
}

// TestConcurrentGoroutines: the OFD lock excludes writers within one
// process too (a classic fcntl lock would not).
func TestConcurrentGoroutines(t *testing.T) {
	f := newFixture(t, false)
	uid := uint32(os.Getuid())
	f.without(t, uid, 100)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r := Request{UID: 5000 + uint32(i), GID: 100, Home: "/"}
			if uid != 0 {
				r.UID = uid // only our own uid needs no chown; all but one find it added
			}
			p, err := f.Check(r)
			if err == nil {
				err = f.Apply(p)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	lines := wellFormed(t, f.Passwd, false)
	want := len(wellFormed(t, f.Passwd+".orig", false)) + n
	if uid != 0 {
		want -= n - 1
	}
	if len(lines) != want {
		t.Errorf("%d lines, want %d:\n%s", len(lines), want, strings.Join(lines, "\n"))
	}
}

// without removes the entries of uid and gid from the fixture, so that the
// running uid can add itself. The passwd before is kept as passwd.orig.
func (f *fixture) without(t testing.TB, uid, gid uint32) {
	t.Helper()
	var pw, gr []string
	for _, l := range strings.SplitAfter(basePasswd, "\n") {
		if u, err := account.ParseUser([]byte(strings.TrimSuffix(l, "\n"))); err == nil && u.UID != uid {
			pw = append(pw, l)
		}
	}
	for _, l := range strings.SplitAfter(baseGroup, "\n") {
		if g, err := account.ParseGroup([]byte(strings.TrimSuffix(l, "\n"))); err == nil && g.GID != gid && g.Name != "me" {
			gr = append(gr, l)
		}
	}
	f.write(t, f.Passwd, strings.Join(pw, ""), 0o644)
	f.write(t, f.Passwd+".orig", strings.Join(pw, ""), 0o644)
	f.write(t, f.Group, strings.Join(gr, ""), 0o644)
}
