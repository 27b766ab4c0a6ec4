package useradd

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gosu/internal/account"
)

// lsFixture is a LinuxServer.io-like image's account files, with shadow
// and gshadow.
func lsFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t, true)
	f.write(t, f.Passwd, lsPasswd, 0o644)
	f.write(t, f.Group, lsGroup, 0o644)
	f.write(t, f.Shadow, "root:*:19000:0:99999:7:::\nabc:!:19000:0:99999:7:::\n", 0o640)
	return f
}

func remap(f Files, r Remap) (*Plan, error) {
	p, err := f.CheckRemap(r)
	if err != nil {
		return p, err
	}
	return p, f.Apply(p)
}

// TestRemapApply: LinuxServer's "usermod -o -u $PUID abc; groupmod -o -g
// $PGID abc": the two lines change, every other byte stays, each file is
// replaced keeping its owner and mode, shadow is not written; a second
// start writes nothing at all.
func TestRemapApply(t *testing.T) {
	needRoot(t)
	f := lsFixture(t)
	old := snap(t, f.Passwd, f.Group)
	untouched := snap(t, f.Shadow, f.gshadow)
	p, err := remap(f.Files, Remap{Name: "abc", UID: 1001, GID: 1001})
	if err != nil {
		t.Fatal(err)
	}
	if p.OldUID != 911 || p.OldGID != 911 || p.Home != "/config" {
		t.Errorf("plan %+v", summarize(p))
	}
	for path, want := range map[string]string{
		f.Passwd: strings.Replace(lsPasswd, "abc:x:911:911:", "abc:x:1001:1001:", 1),
		f.Group:  strings.Replace(lsGroup, "abc:x:911:", "abc:x:1001:", 1),
	} {
		if got := read(t, path); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", path, got, want)
		}
		st, was := stat(t, path), old[path].st
		if st.Ino == was.Ino || st.Mode != was.Mode || st.Uid != was.Uid || st.Gid != was.Gid {
			t.Errorf("%s: ino %d (was %d), mode %o %d:%d", path, st.Ino, was.Ino, st.Mode, st.Uid, st.Gid)
		}
	}
	unchanged(t, untouched)
	db := account.DB{Passwd: f.Passwd, Group: f.Group}
	if u, err := db.UserByName("abc"); err != nil || u != (account.User{Name: "abc", UID: 1001, GID: 1001, Home: "/config", Shell: "/bin/false"}) {
		t.Errorf("UserByName(abc) = %+v, %v", u, err)
	}
	if g, err := db.GroupsOf("abc"); err != nil || len(g) != 1 || g[0] != 100 {
		t.Errorf("abc's groups: %v, %v", g, err)
	}
	if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}

	before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow, f.Lock, filepath.Dir(f.Passwd))
	time.Sleep(20 * time.Millisecond)
	for range 3 {
		if p, err := remap(f.Files, Remap{Name: "abc", UID: 1001, GID: 1001}); err != nil || !p.Nothing() {
			t.Fatalf("restart: %+v, %v", p, err)
		}
	}
	unchanged(t, before)
}

// TestRemapRefusedChangesNothing: every refusal comes from CheckRemap,
// before any file is written, and Apply, deciding again, refuses the same.
func TestRemapRefusedChangesNothing(t *testing.T) {
	f := lsFixture(t)
	before := snap(t, f.Passwd, f.Group, f.Shadow, f.gshadow)
	for _, r := range []Remap{
		{Name: "nope", UID: 1001, GID: 1001}, {Name: "root", UID: 1001, GID: 1001}, {Name: "abc", UID: 0, GID: 1001},
		{Name: "abc", UID: 1001, GID: 0}, {Name: "abc", UID: 1000, GID: 1000},
	} {
		if _, err := f.CheckRemap(r); err == nil {
			t.Errorf("CheckRemap(%+v) accepted", r)
		}
		if err := f.Apply(&Plan{remap: &r, Changes: Changes{Passwd: &Change{}}}); err == nil {
			t.Errorf("Apply(%+v) accepted", r)
		}
	}
	unchanged(t, before)
}

// TestRemapBindMounted: docker run -v ./passwd:/etc/passwd. A changed line
// cannot be written by rename (EBUSY) and is not written in place (a
// reader or a kill could see it half written): refused by CheckRemap with
// what to do, nothing written. A new group line is still appended in
// place, and a file that needs no change works as usual.
func TestRemapBindMounted(t *testing.T) {
	needRoot(t)
	f := lsFixture(t)
	src := filepath.Join(f.dir, "passwd.host")
	f.write(t, src, lsPasswd, 0o644)
	mounts := []mount{{Src: src, Dst: f.Passwd}}
	before := snap(t, src, f.Passwd, f.Group, f.Shadow)
	out := runJob(t, job{Files: f.Files, UID: -1, Mounts: mounts, Remap: &Remap{Name: "abc", UID: 1001, GID: 1001}})
	want := `cannot give "abc" uid 1001 in ` + f.Passwd + `: it is a mount point (a bind-mounted file), which rename(2) cannot replace, ` +
		`and a line changed in place could be read half written: mount a directory on ` + filepath.Dir(f.Passwd) +
		` instead of the file, or change the file where it comes from`
	if out.CheckErr != want || out.Kind != "unsafe" {
		t.Errorf("%+v\nwant %s", out, want)
	}
	unchanged(t, before)

	// The host's file already has the ids; the group gets a new line for
	// gid 1001, appended in place to a bind-mounted group.
	f.write(t, src, strings.Replace(lsPasswd, "abc:x:911:911:", "abc:x:1001:911:", 1)+"other:x:1002:911::/:/bin/sh\n", 0o644)
	gsrc := filepath.Join(f.dir, "group.host")
	f.write(t, gsrc, lsGroup, 0o644)
	ino := stat(t, gsrc).Ino
	mounts = append(mounts, mount{Src: gsrc, Dst: f.Group})
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: mounts, Remap: &Remap{Name: "abc", UID: 1001, GID: 911}})
	if out.CheckErr != "" || out.ApplyErr != "" || !out.Plan.Nothing() {
		t.Errorf("nothing to change: %+v", out)
	}
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: mounts, Remap: &Remap{Name: "abc", UID: 1001, GID: 4000}})
	if !strings.HasPrefix(out.CheckErr, `cannot give "abc" uid 1001 in `+f.Passwd+`: it is a mount point`) {
		t.Errorf("gid change in a mounted passwd: %+v", out)
	}
	f.write(t, src, lsPasswd, 0o644)
	os.Rename(src, f.Passwd) // passwd is the image's again, group stays mounted
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: mounts[1:], Remap: &Remap{Name: "abc", UID: 1001, GID: 1001}})
	if want := `cannot give "abc" gid 1001 in ` + f.Group + `: it is a mount point`; !strings.HasPrefix(out.CheckErr, want) {
		t.Errorf("abc's group in a mounted group file: %+v\nwant %s...", out, want)
	}
	f.write(t, f.Passwd, lsPasswd+"other:x:1002:911::/:/bin/sh\n", 0o644) // abc's group is shared now: a new one is added
	out = runJob(t, job{Files: f.Files, UID: -1, Mounts: mounts[1:], Remap: &Remap{Name: "abc", UID: 1001, GID: 1001}})
	if out.CheckErr != "" || out.ApplyErr != "" {
		t.Fatalf("appending to a mounted group: %+v", out)
	}
	if got := read(t, gsrc); got != lsGroup+"group1001:x:1001:\n" || stat(t, gsrc).Ino != ino {
		t.Errorf("mounted group: %q", got)
	}
}

// TestRemapKilledMidway: remaps SIGKILLed at random moments leave each file
// old or new, never torn, and the next start completes the same result.
// The files are large, so that the copies take long enough to be hit.
func TestRemapKilledMidway(t *testing.T) {
	needRoot(t)
	var pw, gr strings.Builder
	pw.WriteString(lsPasswd)
	gr.WriteString(lsGroup)
	for i := range 40000 {
		pw.WriteString("filler" + strconv.Itoa(i) + ":x:" + strconv.Itoa(100000+i) + ":100::/nonexistent:/usr/sbin/nologin\n")
		gr.WriteString("filler" + strconv.Itoa(i) + ":x:" + strconv.Itoa(100000+i) + ":\n")
	}
	oldP, oldG := pw.String(), gr.String()
	newP := strings.Replace(oldP, "abc:x:911:911:", "abc:x:1001:1001:", 1)
	newG := strings.Replace(oldG, "abc:x:911:", "abc:x:1001:", 1)
	r := &Remap{Name: "abc", UID: 1001, GID: 1001}
	stats := map[string]int{}
	var took time.Duration
	for i := range 60 {
		f := newFixture(t, true)
		f.write(t, f.Passwd, oldP, 0o644)
		f.write(t, f.Group, oldG, 0o644)
		j := job{Files: f.Files, UID: -1, Remap: r}
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
			t.Logf("a remap takes %v", took)
			continue
		}
		p, g := read(t, f.Passwd), read(t, f.Group)
		switch {
		case p == oldP && g == oldG:
			stats["before"]++
		case p == oldP && g == newG:
			stats["group only"]++
		case p == newP && g == newG:
			stats["done"]++
		default:
			t.Fatalf("round %d: torn: passwd old %v new %v, group old %v new %v", i, p == oldP, p == newP, g == oldG, g == newG)
		}
		stats["leftover"] += len(leftovers(t, filepath.Dir(f.Passwd)))
		if out := runJob(t, j); out.CheckErr != "" || out.ApplyErr != "" {
			t.Fatalf("restart: %+v", out)
		}
		if read(t, f.Passwd) != newP || read(t, f.Group) != newG {
			t.Fatalf("round %d: the restart did not complete the remap", i)
		}
		if l := leftovers(t, filepath.Dir(f.Passwd)); len(l) > 0 {
			t.Fatalf("the restart left %v", l)
		}
	}
	t.Logf("%v", stats)
}

// TestRemapWithUsermod: the real usermod and useradd, changing and adding
// other users in the same files at the same moment, lose nothing, and pwck
// and grpck find the result consistent.
func TestRemapWithUsermod(t *testing.T) {
	needRoot(t)
	toolPath(t, "usermod", "passwd")
	for i := range 15 {
		f := lsFixture(t)
		// usermod -u re-owns its user's home: one that does not exist.
		f.write(t, f.Passwd, strings.Replace(lsPasswd, "shared:x:912:50::/:", "shared:x:912:50::/nonexistent:", 1), 0o644)
		f.write(t, f.gshadow, "root:*::\ndaemon:*::\nstaff:*::\nusers:*::abc\nabc:!::\nubuntu:!::\n", 0o640)
		f.write(t, f.Shadow, "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nubuntu:!:19000:0:99999:7:::\n"+
			"abc:!:19000:0:99999:7:::\ntoor:*:19000:0:99999:7:::\nshared:*:19000:0:99999:7:::\n", 0o640)
		// usermod refuses a user some process runs as: shared's 912 is no
		// one's here (ubuntu's 1000 may be another test's).
		theirs := inEtc(t, f, "usermod -u "+strconv.Itoa(3000+i)+" shared && useradd -M -d / -U late"+strconv.Itoa(i))
		ours := helperCmd(t, job{Files: f.Files, UID: -1, Remap: &Remap{Name: "abc", UID: uint32(2000 + i), GID: uint32(2000 + i)}})
		var tout, oout bytes.Buffer
		theirs.Stdout, theirs.Stderr, ours.Stdout, ours.Stderr = &tout, &tout, &oout, &oout
		if err := theirs.Start(); err != nil {
			t.Fatal(err)
		}
		if err := ours.Start(); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Wait(); err != nil {
			t.Fatalf("usermod: %v %s", err, tout.String())
		}
		if err := ours.Wait(); err != nil || strings.Contains(oout.String(), "Err\":\"c") {
			t.Fatalf("ours: %v %s", err, oout.String())
		}
		db := account.DB{Passwd: f.Passwd, Group: f.Group}
		n := strconv.Itoa(i)
		for name, uid := range map[string]int{"abc": 2000 + i, "shared": 3000 + i} {
			if u, err := db.UserByName(name); err != nil || int(u.UID) != uid {
				t.Fatalf("round %d: %s = %+v, %v\n%s", i, name, u, err, read(t, f.Passwd))
			}
		}
		if _, err := db.UserByName("late" + n); err != nil {
			t.Fatalf("round %d: useradd's user lost: %v", i, err)
		}
		if g, err := db.GroupByName("abc"); err != nil || int(g.GID) != 2000+i {
			t.Fatalf("round %d: group abc = %+v, %v", i, g, err)
		}
		wellFormed(t, f.Passwd, false)
		wellFormed(t, f.Group, true)
		out, err := inEtc(t, f, "pwck -r; grpck -r").CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.Contains(line, "directory '/") && !strings.Contains(line, "no changes") {
				t.Errorf("round %d: pwck/grpck: %q (%v)", i, line, err)
			}
		}
	}
}

// TestRemapUnsafeFiles: a passwd that is a symbolic link, or in a
// directory others may write, is not rewritten (issue 12.16's rule).
func TestRemapUnsafeFiles(t *testing.T) {
	needRoot(t)
	f := lsFixture(t)
	real := filepath.Join(f.dir, "passwd.real")
	os.Rename(f.Passwd, real)
	os.Symlink(real, f.Passwd)
	before := snap(t, real, f.Group)
	if _, err := remap(f.Files, Remap{Name: "abc", UID: 1001, GID: 100}); !errors.Is(err, ErrUnsafe) ||
		err.Error() != `cannot give "abc" uid 1001 in `+f.Passwd+`: it is a symbolic link, and account files are never written through one` {
		t.Errorf("symlinked passwd: %v", err)
	}
	unchanged(t, before)

	f = lsFixture(t)
	os.Chmod(filepath.Dir(f.Passwd), 0o777)
	before = snap(t, f.Passwd, f.Group)
	if _, err := remap(f.Files, Remap{Name: "abc", UID: 1001, GID: 1001}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("world-writable etc: %v", err)
	}
	unchanged(t, before)
}

// TestRemapReadOnlyEtc: /etc mounted read-only: refused with the reason,
// nothing written.
func TestRemapReadOnlyEtc(t *testing.T) {
	needRoot(t)
	f := lsFixture(t)
	etc := filepath.Dir(f.Passwd)
	before := snap(t, f.Passwd, f.Group)
	out := runJob(t, job{Files: f.Files, UID: -1, Mounts: []mount{{Src: etc, Dst: etc, RO: true}}, Remap: &Remap{Name: "abc", UID: 1001, GID: 1001}})
	if want := `cannot give "abc" gid 1001 in ` + f.Group + `: read-only file system`; out.CheckErr != want || out.Kind != "erofs" {
		t.Errorf("%+v\nwant %s", out, want)
	}
	unchanged(t, before)
}
