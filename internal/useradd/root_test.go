package useradd

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
)

// These tests add entries for other uids, chown and mount: root only.

func stat(t testing.TB, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ensure is Check then Apply, as gosu does.
func ensure(f Files, r Request) (*Plan, error) {
	p, err := f.Check(r)
	if err != nil {
		return p, err
	}
	return p, f.Apply(p)
}

func TestApplyFresh(t *testing.T) {
	needRoot(t)
	f := newFixture(t, true)
	old := snap(t, f.Passwd, f.Group, f.Shadow)
	gshadow := snap(t, f.gshadow)
	old0 := umask(t, 0o077) // must not change the modes made
	defer umask(t, old0)
	r := Request{UID: 1001, GID: 1001, Home: f.home("user1001")}
	if _, err := ensure(f.Files, r); err != nil {
		t.Fatal(err)
	}
	day := strconv.FormatInt(time.Now().Unix()/86400, 10)
	for path, line := range map[string]string{
		f.Passwd: "user1001:x:1001:1001::" + f.home("user1001") + ":/bin/sh",
		f.Group:  "user1001:x:1001:",
		f.Shadow: "user1001:!:" + day + ":0:99999:7:::",
	} {
		if got, want := read(t, path), old[path].content+line+"\n"; got != want {
			t.Errorf("%s:\n%s\nwant\n%s", path, got, want)
		}
		st, was := stat(t, path), old[path].st
		if st.Ino == was.Ino {
			t.Errorf("%s was written in place, not replaced", path)
		}
		if st.Mode != was.Mode || st.Uid != was.Uid || st.Gid != was.Gid {
			t.Errorf("%s: mode %o %d:%d, was %o %d:%d", path, st.Mode, st.Uid, st.Gid, was.Mode, was.Uid, was.Gid)
		}
	}
	wellFormed(t, f.Passwd, false)
	wellFormed(t, f.Group, true)
	db := account.DB{Passwd: f.Passwd, Group: f.Group}
	if u, err := db.UserByName("user1001"); err != nil || u != (account.User{Name: "user1001", UID: 1001, GID: 1001, Home: f.home("user1001"), Shell: "/bin/sh"}) {
		t.Errorf("UserByName = %+v, %v", u, err)
	}
	if g, err := db.GroupByName("user1001"); err != nil || g.GID != 1001 {
		t.Errorf("GroupByName = %+v, %v", g, err)
	}
	home, parent := stat(t, f.home("user1001")), stat(t, filepath.Dir(f.home("user1001")))
	if home.Mode != unix.S_IFDIR|0o755 || home.Uid != 1001 || home.Gid != 1001 {
		t.Errorf("home: mode %o owner %d:%d", home.Mode, home.Uid, home.Gid)
	}
	if parent.Mode != unix.S_IFDIR|0o755 || parent.Uid != 0 || parent.Gid != 0 {
		t.Errorf("home's parent: mode %o owner %d:%d", parent.Mode, parent.Uid, parent.Gid)
	}
	if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
	unchanged(t, gshadow) // gshadow is not maintained
}

func umask(t testing.TB, m int) int { return syscall.Umask(m) }

// TestRestartIdempotent: the second start finds everything and writes
// nothing at all: same bytes, same inodes, same mtimes and ctimes.
func TestRestartIdempotent(t *testing.T) {
	needRoot(t)
	for _, gid := range []uint32{1001, 100} {
		f := newFixture(t, true)
		r := Request{UID: 1001, GID: gid, Name: "web", Home: f.home("web")}
		if _, err := ensure(f.Files, r); err != nil {
			t.Fatal(err)
		}
		paths := []string{f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock, f.home("web"), filepath.Dir(f.Passwd)}
		before := snap(t, paths...)
		time.Sleep(20 * time.Millisecond) // a write now would show in the times
		for range 3 {
			p, err := ensure(f.Files, r)
			if err != nil || !p.Nothing() {
				t.Fatalf("restart: %+v, %v", p, err)
			}
		}
		// And with the default request, as a second "gosu --add-user 1001"
		// with another GROUP_ID that exists would make it.
		if p, err := ensure(f.Files, Request{UID: 1001, GID: 100}); err != nil || !p.Nothing() || p.Name != "web" || p.Home != f.home("web") {
			t.Fatalf("restart with defaults: %+v, %v", p, err)
		}
		unchanged(t, before)
	}
}

// TestExistingGID: GROUP_ID=100, where groupadd fails: users is used as
// it is and /etc/group is not written.
func TestExistingGID(t *testing.T) {
	needRoot(t)
	f := newFixture(t, true)
	before := snap(t, f.Group, f.gshadow)
	p, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: f.home("user1001")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Group != "users" || p.Changes.Group != nil {
		t.Errorf("plan %+v", p)
	}
	unchanged(t, before)
	u, found, err := account.DB{Passwd: f.Passwd, Group: f.Group}.UserByID(1001)
	if err != nil || !found || u.GID != 100 || u.Name != "user1001" {
		t.Errorf("UserByID = %+v %v %v", u, found, err)
	}
	if st := stat(t, f.home("user1001")); st.Uid != 1001 || st.Gid != 100 {
		t.Errorf("home owner %d:%d", st.Uid, st.Gid)
	}
}

// TestConcurrentProcesses: two processes add different users at the same
// time, 50 times: both entries are there once, every file well-formed.
// With the lock file unavailable (flock of each file only, appends in
// place) too.
func TestConcurrentProcesses(t *testing.T) {
	needRoot(t)
	for _, lockable := range []bool{true, false} {
		for i := range 50 {
			f := newFixture(t, true)
			if !lockable {
				f.Lock = filepath.Join(f.dir, "missing", ".pwd.lock")
			}
			ino := stat(t, f.Passwd).Ino
			var cmds []*exec.Cmd
			var outs []*bytes.Buffer
			for k := range 2 {
				uid := uint32(2001 + k)
				cmd := helperCmd(t, job{Files: f.Files, UID: -1, Req: Request{UID: uid, GID: uid, Home: f.home("u" + strconv.Itoa(k))}})
				out := new(bytes.Buffer)
				cmd.Stdout, cmd.Stderr = out, out
				cmds, outs = append(cmds, cmd), append(outs, out)
			}
			for _, c := range cmds {
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
			}
			for k, c := range cmds {
				if err := c.Wait(); err != nil || strings.Contains(outs[k].String(), "Err\":\"c") {
					t.Fatalf("lockable %v round %d: %v %s", lockable, i, err, outs[k])
				}
			}
			for _, path := range []string{f.Passwd, f.Group, f.Shadow} {
				content := read(t, path)
				for _, name := range []string{"user2001:", "user2002:"} {
					if n := strings.Count(content, "\n"+name); n != 1 {
						t.Fatalf("lockable %v round %d: %s has %q %d times:\n%s", lockable, i, path, name, n, content)
					}
				}
			}
			wellFormed(t, f.Passwd, false)
			wellFormed(t, f.Group, true)
			if !lockable && stat(t, f.Passwd).Ino != ino {
				t.Fatalf("without the lock file passwd was replaced")
			}
		}
	}
}

// TestKilledMidway: writers SIGKILLed at random moments leave each file
// with its old content or its new content, never a part; the next start
// completes the work. The passwd is large, so that the copy takes long
// enough to be hit. In place (a bind-mounted file), the line is one short
// write(2), which a kill does not cut.
func TestKilledMidway(t *testing.T) {
	needRoot(t)
	var big strings.Builder
	big.WriteString(basePasswd)
	for i := range 60000 {
		big.WriteString("filler" + strconv.Itoa(i) + ":x:" + strconv.Itoa(100000+i) + ":100::/nonexistent:/usr/sbin/nologin\n")
	}
	for _, inPlace := range []bool{false, true} {
		stats := map[string]int{}
		var took time.Duration // one whole helper run, measured: the kills fall within it
		for i := range 80 {
			f := newFixture(t, true)
			f.write(t, f.Passwd, big.String(), 0o644)
			r := Request{UID: 1001, GID: 1001, Home: "/"}
			j := job{Files: f.Files, UID: -1, Req: r}
			src := f.Passwd
			if inPlace {
				src = filepath.Join(f.dir, "passwd.src")
				f.write(t, src, big.String(), 0o644)
				j.Mounts = []mount{{Src: src, Dst: f.Passwd}}
			}
			cmd := helperCmd(t, j)
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if took > 0 {
				time.Sleep(time.Duration(rand.Int64N(int64(took))))
				cmd.Process.Kill()
			}
			cmd.Wait()
			if took == 0 {
				took = time.Since(start)
				t.Logf("in place %v: a writer takes %v", inPlace, took)
				f.write(t, src, big.String(), 0o644) // start over
				f.write(t, f.Group, baseGroup, 0o644)
				f.write(t, f.Shadow, baseShadow, 0o640)
			}
			line := "user1001:x:1001:1001::/:/bin/sh\n"
			got := read(t, src)
			switch {
			case got == big.String():
				stats["old"]++
			case got == big.String()+line:
				stats["new"]++
			default:
				t.Fatalf("in place %v round %d: passwd is neither old nor new; its end:\n%q", inPlace, i, got[max(0, len(got)-300):])
			}
			if g := read(t, f.Group); g != baseGroup && g != baseGroup+"user1001:x:1001:\n" {
				t.Fatalf("group torn: %q", g)
			}
			left := leftovers(t, filepath.Dir(f.Passwd))
			stats["leftover"] += len(left)
			// The next start completes it.
			if out := runJob(t, j); out.CheckErr != "" || out.ApplyErr != "" {
				t.Fatalf("restart: %+v", out)
			}
			if got := read(t, src); got != big.String()+line {
				t.Fatalf("in place %v round %d: after restart, passwd ends %q", inPlace, i, got[max(0, len(got)-300):])
			}
			if g := read(t, f.Group); g != baseGroup+"user1001:x:1001:\n" {
				t.Fatalf("group after restart: %q", g)
			}
			if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
				t.Fatalf("the restart left %v (before it: %v)", l, left)
			}
		}
		t.Logf("in place %v: %v", inPlace, stats)
	}
}

// TestReadOnlyEtc: /etc mounted read-only: a clear error, from Check,
// before anything is written.
func TestReadOnlyEtc(t *testing.T) {
	needRoot(t)
	f := newFixture(t, true)
	etc := filepath.Dir(f.Passwd)
	before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock)
	ro := []mount{{Src: etc, Dst: etc, RO: true}}
	out := runJob(t, job{Files: f.Files, UID: -1, Mounts: ro, Req: Request{UID: 1001, GID: 1001, Home: "/"}})
	if want := "cannot add gid 1001 to " + f.Group + ": read-only file system"; out.CheckErr != want || out.Kind != "erofs" {
		t.Errorf("new group: %+v\nwant %s", out, want)
	}
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: ro, Req: Request{UID: 1001, GID: 100, Home: "/"}})
	if want := "cannot add uid 1001 to " + f.Passwd + ": read-only file system"; out.CheckErr != want || out.Kind != "erofs" {
		t.Errorf("existing group: %+v\nwant %s", out, want)
	}
	// A home that root cannot make is found by Check too.
	home := filepath.Join(f.dir, "ro", "home")
	os.Mkdir(filepath.Join(f.dir, "ro"), 0o755)
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: []mount{{Src: f.dir + "/ro", Dst: f.dir + "/ro", RO: true}}, Req: Request{UID: 1001, GID: 100, Home: home}})
	if want := "cannot create home directory " + home + " in " + f.dir + "/ro: read-only file system"; out.CheckErr != want || out.Kind != "erofs" {
		t.Errorf("home: %+v\nwant %s", out, want)
	}
	unchanged(t, before)
}

// TestOpenShift: an arbitrary non-root uid in group 0, /etc not writable
// to it, /etc/passwd group-writable (0664 root:0), no usable lock file:
// the line is appended in place to the same inode.
func TestOpenShift(t *testing.T) {
	needRoot(t)
	const uid = 1000680000
	for _, variant := range []string{"no lock file", "root's lock file", "etc mounted read-only"} {
		t.Run(variant, func(t *testing.T) {
			f := newFixture(t, true)
			f.write(t, f.Passwd, basePasswd, 0o664)
			appRoot := filepath.Join(f.dir, "opt", "app-root")
			if err := os.MkdirAll(appRoot, 0o775); err != nil {
				t.Fatal(err)
			}
			os.Chmod(appRoot, 0o775) // group 0 may create in it, as in OpenShift images
			var mounts []mount
			switch variant {
			case "root's lock file":
				f.write(t, f.Lock, "", 0o600)
			case "etc mounted read-only":
				etc := filepath.Dir(f.Passwd)
				src := filepath.Join(f.dir, "passwd.rw")
				f.write(t, src, basePasswd, 0o664)
				mounts = []mount{{Src: etc, Dst: etc, RO: true}, {Src: src, Dst: f.Passwd}}
			}
			target := f.Passwd
			if len(mounts) > 0 {
				target = mounts[1].Src
			}
			ino := stat(t, target).Ino
			others := snap(t, f.Group, f.Shadow, f.gshadow, f.Lock)
			home := filepath.Join(appRoot, "src")
			out := runJob(t, job{Files: f.Files, UID: uid, GID: 0, Mounts: mounts, Req: Request{UID: uid, GID: 0, Home: home}})
			if out.CheckErr != "" || out.ApplyErr != "" {
				t.Fatalf("%+v", out)
			}
			want := basePasswd + "user1000680000:*:1000680000:0::" + home + ":/bin/sh\n"
			if got := read(t, target); got != want {
				t.Errorf("passwd:\n%s\nwant\n%s", got, want)
			}
			if st := stat(t, target); st.Ino != ino || st.Mode != unix.S_IFREG|0o664 || st.Uid != 0 || st.Gid != 0 {
				t.Errorf("passwd: ino %d (was %d) mode %o owner %d:%d", st.Ino, ino, st.Mode, st.Uid, st.Gid)
			}
			if st := stat(t, home); st.Uid != uid || st.Gid != 0 || st.Mode != unix.S_IFDIR|0o755 {
				t.Errorf("home: owner %d:%d mode %o", st.Uid, st.Gid, st.Mode)
			}
			unchanged(t, others)
			if _, err := os.Stat(f.Lock); variant != "root's lock file" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lock file made: %v", err)
			}
			// Restart: nothing to do, nothing written.
			before := snap(t, target)
			if out := runJob(t, job{Files: f.Files, UID: uid, GID: 0, Mounts: mounts, Req: Request{UID: uid, GID: 0, Home: home}}); out.CheckErr != "" || out.ApplyErr != "" || !out.Plan.Nothing() {
				t.Fatalf("restart: %+v", out)
			}
			unchanged(t, before)
		})
	}
}

// TestNotRoot: without root, a file the uid may not write is refused by
// Check, and nothing is written; a home it may not make is skipped, not an
// error: the account is added without it.
func TestNotRoot(t *testing.T) {
	needRoot(t)
	const uid = 1000680000
	f := newFixture(t, true)
	home := filepath.Join(f.dir, "home", "user1000680000")
	os.Mkdir(filepath.Dir(home), 0o755)
	before := snap(t, f.Group, f.Shadow, f.gshadow, f.Lock)
	passwd := read(t, f.Passwd)
	for _, tc := range []struct {
		r    Request
		want string
	}{
		{Request{UID: uid, GID: 0, Home: "/"}, "cannot add uid 1000680000 to " + f.Passwd + ": permission denied"},
		{Request{UID: uid, GID: 5000, Home: "/"}, "cannot add gid 5000 to " + f.Group + ": permission denied"},
	} {
		out := runJob(t, job{Files: f.Files, UID: uid, GID: 0, Req: tc.r})
		if out.CheckErr != tc.want || out.Kind != "eacces" {
			t.Errorf("%+v\nwant %s", out, tc.want)
		}
	}
	if read(t, f.Passwd) != passwd {
		t.Errorf("passwd changed")
	}
	os.Chmod(f.Passwd, 0o666)
	out := runJob(t, job{Files: f.Files, UID: uid, GID: 0, Req: Request{UID: uid, GID: 0, Home: home}})
	if out.CheckErr != "" || out.ApplyErr != "" || out.Plan.MakeHome || out.Plan.Home != home {
		t.Errorf("unwritable home parent: %+v", out)
	}
	if _, err := os.Lstat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home made: %v", err)
	}
	if got, want := read(t, f.Passwd), passwd+"user1000680000:*:1000680000:0::"+home+":/bin/sh\n"; got != want {
		t.Errorf("passwd:\n%s\nwant\n%s", got, want)
	}
	unchanged(t, before)
}

// TestBindMountedPasswd: docker run -v ./passwd:/etc/passwd. rename(2)
// over a mount point fails with EBUSY; the line is appended in place, to
// the mounted file, and no temporary file is left.
func TestBindMountedPasswd(t *testing.T) {
	needRoot(t)
	f := newFixture(t, true)
	src := filepath.Join(f.dir, "passwd.host")
	f.write(t, src, basePasswd, 0o644)
	under := snap(t, f.Passwd)
	ino := stat(t, src).Ino
	out := runJob(t, job{Files: f.Files, UID: -1, Mounts: []mount{{Src: src, Dst: f.Passwd}}, Req: Request{UID: 1001, GID: 100, Home: "/"}})
	if out.CheckErr != "" || out.ApplyErr != "" {
		t.Fatalf("%+v", out)
	}
	if got, want := read(t, src), basePasswd+"user1001:x:1001:100::/:/bin/sh\n"; got != want {
		t.Errorf("mounted passwd:\n%s\nwant\n%s", got, want)
	}
	if stat(t, src).Ino != ino {
		t.Error("mounted passwd replaced")
	}
	unchanged(t, under)
	if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestLineEndings: a CRLF file and a file without a final newline keep
// their bytes; the new line starts on a line of its own and ends in "\n"
// alone (a "\r" would end up in the shell field for other parsers).
func TestLineEndings(t *testing.T) {
	needRoot(t)
	crlf := strings.ReplaceAll(basePasswd, "\n", "\r\n")
	noEOL := strings.TrimSuffix(basePasswd, "\n")
	for _, tc := range []struct{ passwd, want string }{
		{crlf, crlf + "user1001:x:1001:100::/:/bin/sh\n"},
		{noEOL, noEOL + "\nuser1001:x:1001:100::/:/bin/sh\n"},
		{"", "user1001:x:1001:100::/:/bin/sh\n"},
	} {
		f := newFixture(t, true)
		f.write(t, f.Passwd, tc.passwd, 0o644)
		if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, f.Passwd); got != tc.want {
			t.Errorf("passwd %q:\n%q\nwant\n%q", tc.passwd, got, tc.want)
		}
		// CRLF entries are still entries: uid 1000 is found, nothing added.
		before := snap(t, f.Passwd)
		if p, err := ensure(f.Files, Request{UID: 1000, GID: 100}); err != nil || !p.Nothing() && tc.passwd != "" {
			t.Errorf("uid 1000: %+v %v", p, err)
		}
		if tc.passwd != "" {
			unchanged(t, before)
		}
		u, found, err := account.DB{Passwd: f.Passwd}.UserByID(1001)
		if err != nil || !found || u.Shell != "/bin/sh" {
			t.Errorf("UserByID(1001) = %+v %v %v", u, found, err)
		}
	}
}

// TestShadow: present (a line, owner and mode kept, even 0000 as on
// RHEL), absent (not made; passwd says "*"), read-only (skipped).
func TestShadow(t *testing.T) {
	needRoot(t)
	day := strconv.FormatInt(time.Now().Unix()/86400, 10)
	for _, mode := range []os.FileMode{0o640, 0o000} {
		f := newFixture(t, true)
		os.Chmod(f.Shadow, mode)
		if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); err != nil {
			t.Fatal(err)
		}
		if got, want := read(t, f.Shadow), baseShadow+"user1001:!:"+day+":0:99999:7:::\n"; got != want {
			t.Errorf("shadow %q", got)
		}
		if st := stat(t, f.Shadow); st.Mode != unix.S_IFREG|uint32(mode) || st.Uid != 0 || st.Gid != 42 {
			t.Errorf("shadow mode %o owner %d:%d", st.Mode, st.Uid, st.Gid)
		}
	}

	f := newFixture(t, false)
	if _, err := ensure(f.Files, Request{UID: 1001, GID: 1001, Home: "/"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Shadow); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s made: %v", f.Shadow, err)
	}
	if got := read(t, f.Passwd); !strings.HasSuffix(got, "\nuser1001:*:1001:1001::/:/bin/sh\n") {
		t.Errorf("passwd %q", got)
	}

	f = newFixture(t, true)
	before := snap(t, f.Shadow)
	out := runJob(t, job{Files: f.Files, UID: -1, Req: Request{UID: 1001, GID: 1001, Home: "/"},
		Mounts: []mount{{Src: f.Shadow, Dst: f.Shadow, RO: true}}})
	if out.CheckErr != "" || out.ApplyErr != "" || out.Plan.Changes.Shadow != nil {
		t.Fatalf("%+v", out)
	}
	unchanged(t, before)
	if got := read(t, f.Passwd); !strings.HasSuffix(got, "\nuser1001:*:1001:1001::/:/bin/sh\n") {
		t.Errorf("passwd %q", got)
	}
}

// TestHomeAttacks: an existing home, even a symlink to somewhere that
// matters, is left alone; parents may be symlinks.
func TestHomeAttacks(t *testing.T) {
	needRoot(t)
	f := newFixture(t, false)
	victim := filepath.Join(f.dir, "victim")
	os.Mkdir(victim, 0o700)
	link := f.home("evil")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	p, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: link})
	if err != nil || p.MakeHome {
		t.Fatalf("%+v %v", p, err)
	}
	if st := stat(t, victim); st.Uid != 0 || st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("victim changed: %d %o", st.Uid, st.Mode)
	}
	if l, err := os.Readlink(link); err != nil || l != victim {
		t.Errorf("link changed: %q %v", l, err)
	}

	// A parent that is a symlink is followed, as mkdir -p does.
	real := filepath.Join(f.dir, "var-home")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(f.dir, "h"))
	if _, err := ensure(f.Files, Request{UID: 1002, GID: 100, Home: filepath.Join(f.dir, "h", "u")}); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, filepath.Join(real, "u")); st.Uid != 1002 {
		t.Errorf("home through a symlinked parent: owner %d", st.Uid)
	}
}

// TestSymlinkedFiles is the attack of issue 12.16: an account file, or the
// lock file, that is a symbolic link is never written through (a link in a
// directory the user may write let --add-user append to any file), and an
// account file in a directory others may write is not written at all;
// reading through a link is fine, so a restart with nothing to write works.
func TestSymlinkedFiles(t *testing.T) {
	needRoot(t)
	for _, which := range []string{"passwd", "group", "shadow", "lock"} {
		f := newFixture(t, true)
		victim := filepath.Join(f.dir, "victim")
		f.write(t, victim, "root's\n", 0o600)
		path := map[string]string{"passwd": f.Passwd, "group": f.Group, "shadow": f.Shadow, "lock": f.Lock}[which]
		if which != "lock" {
			os.Rename(path, victim)
		}
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
		before := snap(t, f.Passwd, f.Group, f.Shadow, victim)
		_, err := ensure(f.Files, Request{UID: 1001, GID: 1001, Home: "/"})
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), path+": it is a symbolic link") {
			t.Errorf("%s: %v", which, err)
		}
		unchanged(t, before)
		if which == "lock" {
			continue
		}
		// Nothing to write: the link is only read.
		p, err := ensure(f.Files, Request{UID: 1000, GID: 1000})
		if err != nil || !p.Nothing() {
			t.Errorf("%s, nothing to write: %+v %v", which, p, err)
		}
	}

	// A directory others may write: whoever can write it could replace
	// the file with a link between the check and the write.
	for _, mode := range []os.FileMode{0o777, 0o775, 0o1777} {
		f := newFixture(t, false)
		etc := filepath.Dir(f.Passwd)
		os.Chmod(etc, mode)
		before := snap(t, f.Passwd, f.Group)
		_, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"})
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "its directory "+etc+" may be written by others than root") {
			t.Errorf("mode %o: %v", mode, err)
		}
		unchanged(t, before)
	}
	f := newFixture(t, false)
	etc := filepath.Dir(f.Passwd)
	os.Chown(etc, 2000, 2000)
	if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("directory owned by uid 2000: %v", err)
	}
}

// TestTempFileAttack: a file or symlink planted at the temporary name is
// removed, never written through, and the file is still replaced.
func TestTempFileAttack(t *testing.T) {
	needRoot(t)
	for _, plant := range []string{"symlink", "file"} {
		f := newFixture(t, false)
		victim := filepath.Join(f.dir, "victim")
		f.write(t, victim, "victim\n", 0o600)
		tmp := f.Passwd + ".gosu-tmp"
		if plant == "symlink" {
			if err := os.Symlink(victim, tmp); err != nil {
				t.Fatal(err)
			}
		} else {
			f.write(t, tmp, "left by a killed writer\n", 0o666)
		}
		ino := stat(t, f.Passwd).Ino
		if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, victim); got != "victim\n" {
			t.Errorf("%s: victim written: %q", plant, got)
		}
		if got, want := read(t, f.Passwd), basePasswd+"user1001:*:1001:100::/:/bin/sh\n"; got != want {
			t.Errorf("%s: passwd %q", plant, got)
		}
		if st := stat(t, f.Passwd); st.Ino == ino || st.Mode != unix.S_IFREG|0o644 {
			t.Errorf("%s: passwd not replaced, or mode %o", plant, st.Mode)
		}
		if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
			t.Errorf("%s: left behind: %v", plant, l)
		}
	}
}

// inEtc runs script with the fixture's etc directory mounted on /etc, in a
// private mount namespace, so that shadow's own tools and glibc's
// lckpwdf(3), which know only /etc, work on the fixture.
func inEtc(t testing.TB, f *fixture, script string) *exec.Cmd {
	t.Helper()
	unshare := toolPath(t, "unshare", "util-linux")
	for _, name := range []string{"login.defs", "nsswitch.conf"} {
		if b, err := os.ReadFile("/etc/" + name); err == nil {
			f.write(t, filepath.Join(filepath.Dir(f.Passwd), name), string(b), 0o644)
		}
	}
	return exec.Command(unshare, "-m", "--propagation", "private", "sh", "-ec",
		"mount --bind \"$0\" /etc; "+script, filepath.Dir(f.Passwd))
}

func toolPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	need(t, err == nil, "needs "+name+" (apt-get install "+pkg+")")
	return p
}

// TestLckpwdfInterop: glibc's lckpwdf(3) and this package exclude each
// other: while a process holds it, Apply waits, and goes on as soon as it
// is released.
func TestLckpwdfInterop(t *testing.T) {
	needRoot(t)
	toolPath(t, "python3", "python3")
	f := newFixture(t, true)
	f.write(t, f.Lock, "", 0o600)
	hold := inEtc(t, f, `exec python3 -c 'import ctypes,sys,time
l=ctypes.CDLL(None)
assert l.lckpwdf()==0
print("locked",flush=True)
time.sleep(float(sys.argv[1]))
assert l.ulckpwdf()==0' 1.5`)
	out, err := hold.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	hold.Stderr = os.Stderr
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer hold.Wait()
	if _, err := out.Read(make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	f.LockWait = 300 * time.Millisecond
	if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("while lckpwdf holds the lock: %v", err)
	}
	f.LockWait = 10 * time.Second
	start := time.Now()
	if _, err := ensure(f.Files, Request{UID: 1001, GID: 100, Home: "/"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("did not wait for lckpwdf's holder: %v", d)
	}
}

// TestShadowToolsInterop: the real useradd and this package, adding users
// at the same time to the same files, lose nothing, and pwck and grpck
// find the result consistent.
func TestShadowToolsInterop(t *testing.T) {
	needRoot(t)
	toolPath(t, "useradd", "passwd")
	f := newFixture(t, true)
	for i := range 20 {
		theirs := inEtc(t, f, "exec useradd -u "+strconv.Itoa(3000+i)+" -U -M -d / theirs"+strconv.Itoa(i))
		ours := helperCmd(t, job{Files: f.Files, UID: -1, Req: Request{UID: uint32(4000 + i), GID: uint32(4000 + i), Home: "/"}})
		var tout, oout bytes.Buffer
		theirs.Stdout, theirs.Stderr, ours.Stdout, ours.Stderr = &tout, &tout, &oout, &oout
		if err := theirs.Start(); err != nil {
			t.Fatal(err)
		}
		if err := ours.Start(); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Wait(); err != nil {
			t.Fatalf("useradd: %v %s", err, tout.String())
		}
		if err := ours.Wait(); err != nil || strings.Contains(oout.String(), "Err\":\"c") {
			t.Fatalf("ours: %v %s", err, oout.String())
		}
	}
	for _, path := range []string{f.Passwd, f.Group, f.Shadow, f.gshadow} {
		content := read(t, path)
		for i := range 20 {
			for _, name := range []string{"theirs" + strconv.Itoa(i) + ":", "user" + strconv.Itoa(4000+i) + ":"} {
				if n := strings.Count(content, "\n"+name); n != 1 && !(path == f.gshadow && name[0] == 'u') {
					t.Fatalf("%s has %q %d times:\n%s", path, name, n, content)
				}
			}
		}
	}
	wellFormed(t, f.Passwd, false)
	wellFormed(t, f.Group, true)
	check := inEtc(t, f, "pwck -r; grpck -r")
	out, err := check.CombinedOutput()
	t.Logf("pwck -r; grpck -r:\n%s", out)
	// Homes of the fixture's system users do not exist here; only that
	// kind of remark is expected.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "directory '/") && !strings.Contains(line, "pwck: no changes") {
			t.Errorf("pwck/grpck: %q (%v)", line, err)
		}
	}
}

// TestReaderHoldsFlock: any user may open /etc/passwd or /etc/group and
// flock(2) it, shared or not. Holding lckpwdf's lock, gosu does not wait
// for such a reader: it did, and a start failed after 15 s with "another
// process (useradd, passwd, vipw, gosu) holds the lock" while a uid-1000
// "flock -s /etc/group sleep 20" ran (seen).
func TestReaderHoldsFlock(t *testing.T) {
	needRoot(t)
	f := newFixture(t, true)
	for _, path := range []string{f.Passwd, f.Group} {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
			t.Fatal(err)
		}
	}
	f.LockWait = 300 * time.Millisecond
	if _, err := ensure(f.Files, Request{UID: 1001, GID: 1001, Home: "/"}); err != nil {
		t.Fatal(err)
	}
	if p, err := f.Check(Request{UID: 1001, GID: 1001, Home: "/"}); err != nil || !p.Nothing() {
		t.Fatalf("after Apply: %+v, %v", summarize(p), err)
	}
}
