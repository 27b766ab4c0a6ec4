package ownership

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The two ways an entry is changed: by name in a directory only root can
// write to (an image's tree on a first run), by O_PATH descriptor anywhere
// else. Attacks run against both.
var dirModes = []struct {
	name string
	mode os.FileMode
}{
	{"root-only", 0o755},
	{"writable", 0o777},
}

func TestFixGivesTreeAndRoot(t *testing.T) {
	needRoot(t)
	noLeaks(t)
	dir := scratch(t)
	vol := filepath.Join(dir, "vol")
	mkdir(t, vol+"/a/b", 0o755)
	mkdir(t, vol+"/c", 0o700)
	write(t, vol+"/f", 0o644)
	write(t, vol+"/a/g", 0o600)
	write(t, vol+"/a/b/h", 0o644)
	if err := os.Symlink("a/g", vol+"/link"); err != nil {
		t.Fatal(err)
	}
	s := fix(t, vol)
	for p, o := range owners(t, vol) {
		if o != newOwner {
			t.Errorf("%s: owner %s, want %s", p, o, newOwner)
		}
	}
	if s.Seen != 8 || s.Changed != 8 || s.SkippedCount != 0 || s.MountCount != 0 {
		t.Errorf("stats %+v, want 8 seen and changed, nothing skipped", s)
	}
	if got, want := s.Summary(), "chown "+q(vol)+": 8 of 8 changed"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestSymlinkIsReownedNotFollowed(t *testing.T) {
	needRoot(t)
	for _, m := range dirModes {
		t.Run(m.name, func(t *testing.T) {
			dir := scratch(t)
			vol, out := dir+"/vol", dir+"/outside"
			mkdir(t, vol, m.mode)
			mkdir(t, out+"/sub", 0o700)
			write(t, out+"/shadow", 0o600)
			write(t, out+"/sub/key", 0o600)
			for name, target := range map[string]string{"evil": out + "/shadow", "evildir": out, "rel": "../outside/sub"} {
				if err := os.Symlink(target, vol+"/"+name); err != nil {
					t.Fatal(err)
				}
			}
			fix(t, vol)
			for p, o := range owners(t, out) {
				if o != rootOwner {
					t.Errorf("outside/%s: owner %s, want it untouched (%s)", p, o, rootOwner)
				}
			}
			for _, name := range []string{"evil", "evildir", "rel"} {
				wantOwner(t, vol+"/"+name, newOwner)
			}
		})
	}
}

func TestHardLinks(t *testing.T) {
	needRoot(t)
	for _, m := range dirModes {
		t.Run(m.name, func(t *testing.T) {
			dir := scratch(t)
			vol, out := dir+"/vol", dir+"/outside"
			mkdir(t, vol+"/sub", m.mode)
			mkdir(t, out, 0o700)
			write(t, out+"/shadow", 0o640)
			link(t, out+"/shadow", vol+"/sub/x")
			// A pair inside (as in a pnpm store), in two directories.
			write(t, vol+"/pair1", 0o644)
			link(t, vol+"/pair1", vol+"/sub/pair2")
			// Three links, all inside, one directory.
			write(t, vol+"/sub/t1", 0o644)
			link(t, vol+"/sub/t1", vol+"/sub/t2")
			link(t, vol+"/sub/t1", vol+"/sub/t3")
			s := fix(t, vol)
			wantOwner(t, out+"/shadow", rootOwner)
			wantOwner(t, vol+"/pair1", newOwner)
			wantOwner(t, vol+"/sub/t3", newOwner)
			want := []string{q(vol+"/sub/x") + ": 2 hard links, 1 outside the tree"}
			if strings.Join(s.Skipped, "\n") != strings.Join(want, "\n") || s.SkippedCount != 1 {
				t.Errorf("skipped %q (%d), want %q", s.Skipped, s.SkippedCount, want)
			}
			if got, want := s.Summary(), "chown "+q(vol)+": 4 of 8 changed, 1 skipped (hard links outside)"; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
		})
	}
}

// A pnpm-style store: every file has a second link elsewhere in the tree.
func TestHardLinkStoreInside(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol := dir + "/vol"
	for i := range 300 {
		d := strconv.Itoa(i % 7)
		mkdir(t, vol+"/store/"+d, 0o755)
		mkdir(t, vol+"/node_modules/p"+d, 0o755)
		f := vol + "/store/" + d + "/f" + strconv.Itoa(i)
		write(t, f, 0o644)
		link(t, f, vol+"/node_modules/p"+d+"/f"+strconv.Itoa(i))
	}
	s := fix(t, vol)
	for p, o := range owners(t, vol) {
		if o != newOwner {
			t.Errorf("%s: owner %s, want %s", p, o, newOwner)
		}
	}
	if s.SkippedCount != 0 {
		t.Errorf("skipped %v", s.Skipped)
	}
}

func TestSkippedIsCapped(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol, out := dir+"/vol", dir+"/outside"
	mkdir(t, vol, 0o755)
	mkdir(t, out, 0o755)
	for i := range 25 {
		write(t, out+"/f"+strconv.Itoa(i), 0o644)
		link(t, out+"/f"+strconv.Itoa(i), vol+"/l"+strconv.Itoa(i))
	}
	s := fix(t, vol)
	if len(s.Skipped) != 20 || s.SkippedCount != 25 {
		t.Errorf("%d names kept, count %d: want 20 and 25", len(s.Skipped), s.SkippedCount)
	}
	if got, want := s.Summary(), "chown "+q(vol)+": 1 of 26 changed, 25 skipped (hard links outside)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// A restart with nothing to do changes nothing, not even a ctime: the
// second walk reads only.
func TestRestartIsReadOnly(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol := dir + "/vol"
	mkdir(t, vol+"/a/b", 0o755)
	mkdir(t, vol+"/w", 0o777)
	write(t, vol+"/a/f", 0o644)
	write(t, vol+"/w/g", 0o4755)
	write(t, vol+"/a/b/h", 0o644)
	link(t, vol+"/a/f", vol+"/w/f2")
	if err := os.Symlink("nowhere", vol+"/a/l"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(vol+"/w/fifo", 0o600); err != nil {
		t.Fatal(err)
	}
	first := fix(t, vol)
	// f and f2 are one inode: 10 entries, 9 changes.
	if first.Seen != 10 || first.Changed != 9 {
		t.Fatalf("first run: %s", first.Summary())
	}
	before := ctimes(t, vol)
	time.Sleep(20 * time.Millisecond) // a change now would show
	second := fix(t, vol)
	if second.Changed != 0 || second.Seen != first.Seen {
		t.Errorf("second run: %s", second.Summary())
	}
	after := ctimes(t, vol)
	for p, c := range before {
		if after[p] != c {
			t.Errorf("%s: ctime %v, was %v", p, after[p], c)
		}
	}
}

func ctimes(t *testing.T, root string) map[string]unix.StatxTimestamp {
	m := map[string]unix.StatxTimestamp{}
	filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		m[p] = lstat(t, p).Ctime
		return nil
	})
	return m
}

// Narrow mode, as fixuid: uid and gid matched apart (chown --from differs:
// an entry must match both, and then both change).
func TestNarrow(t *testing.T) {
	needRoot(t)
	ids := [][2]int{{1000, 1000}, {1000, 2000}, {2000, 1000}, {2000, 2000}}
	for _, c := range []struct {
		fromUID, fromGID int64
		want             []string
	}{
		{1000, 1000, []string{"4242:4343", "4242:4343", "4242:2000", "2000:4343", "2000:2000"}},
		// One part given: an entry must match it to change at all.
		{1000, -1, []string{"4242:4343", "4242:4343", "4242:4343", "2000:1000", "2000:2000"}},
		{-1, 1000, []string{"4242:4343", "4242:4343", "1000:2000", "4242:4343", "2000:2000"}},
	} {
		t.Run(strconv.FormatInt(c.fromUID, 10)+":"+strconv.FormatInt(c.fromGID, 10), func(t *testing.T) {
			dir := scratch(t)
			vol := dir + "/vol"
			mkdir(t, vol, 0o755)
			lchown(t, vol, 1000, 1000)
			for i, id := range ids {
				p := vol + "/f" + strconv.Itoa(i)
				write(t, p, 0o644)
				lchown(t, p, id[0], id[1])
			}
			o := New(newUID, newGID)
			o.FromUID, o.FromGID = c.fromUID, c.fromGID
			if _, err := Fix(vol, o); err != nil {
				t.Fatal(err)
			}
			// want[0] is the root's, 1000:1000.
			wantOwner(t, vol, c.want[0])
			for i := range ids {
				wantOwner(t, vol+"/f"+strconv.Itoa(i), c.want[i+1])
			}
		})
	}
}

// FIFOs, sockets and device nodes are changed through O_PATH, which never
// opens them: a FIFO without a writer would block an open for reading.
func TestSpecialFiles(t *testing.T) {
	needRoot(t)
	for _, m := range dirModes {
		t.Run(m.name, func(t *testing.T) {
			dir := scratch(t)
			vol := dir + "/vol"
			mkdir(t, vol, m.mode)
			if err := unix.Mkfifo(vol+"/fifo", 0o600); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknod(vol+"/null", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknod(vol+"/loop", unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))); err != nil {
				t.Fatal(err)
			}
			l, err := net.Listen("unix", vol+"/sock")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			done := make(chan error, 1)
			go func() { _, err := Fix(vol, New(newUID, newGID)); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Fix blocked on a special file")
			}
			for _, name := range []string{"fifo", "null", "loop", "sock"} {
				wantOwner(t, vol+"/"+name, newOwner)
			}
		})
	}
}

// What the kernel does to the mode when root changes the owner
// (fs/attr.c, fs/open.c chown_common): a non-directory loses S_ISUID,
// S_ISGID when group-execute is set too, and its file capabilities; a
// directory keeps its bits. Fix adds nothing back. A file that was already
// right is not changed, so it keeps everything.
func TestChownClearsSetuid(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol := dir + "/vol"
	mkdir(t, vol+"/sgiddir", 0o755)
	if err := os.Chmod(vol+"/sgiddir", 0o2775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]uint32{"suid": 0o4755, "sgid": 0o2755, "sgid-noexec": 0o2745, "both": 0o6755, "kept": 0o4755} {
		p := vol + "/" + name
		write(t, p, 0o644)
		if name == "kept" {
			// Before the chmod: this chown would clear the bits.
			lchown(t, p, newUID, newGID)
		}
		if err := unix.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// security.capability, v2: cap_net_bind_service (10) effective and permitted.
	caps := []byte{0x01, 0, 0, 0x02, 1 << 2, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	write(t, vol+"/capped", 0o755)
	if err := unix.Setxattr(vol+"/capped", "security.capability", caps, 0); err != nil {
		t.Fatal(err)
	}
	fix(t, vol)
	for name, want := range map[string]uint16{"suid": 0o755, "sgid": 0o755, "sgid-noexec": 0o2745, "both": 0o755, "kept": 0o4755, "sgiddir": 0o2775, "capped": 0o755} {
		if got := lstat(t, vol+"/"+name).Mode &^ unix.S_IFMT; got != want {
			t.Errorf("%s: mode %#o, want %#o", name, got, want)
		}
	}
	if _, err := unix.Getxattr(vol+"/capped", "security.capability", nil); !errors.Is(err, unix.ENODATA) {
		t.Errorf("capped: security.capability still there (%v), want it removed by the kernel", err)
	}
}

// A symbolic link as the root, with or without a trailing slash, is
// refused and named, and nothing changes (package resolve has the rest).
func TestRootSymlinkRefused(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/real", 0o755)
	if err := os.Symlink("real", dir+"/data"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir + "/data", dir + "/data/", dir + "/data/."} {
		_, err := Fix(p, New(newUID, newGID))
		want := "chown " + q(p) + ": cannot open: " + q(dir+"/data") + ` is a symbolic link (to "real") that a user other than root could have made or replaced, which is not followed: give the path without it`
		if err == nil || err.Error() != want || !errors.Is(err, unix.ELOOP) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	wantOwner(t, dir+"/real", rootOwner)
	wantOwner(t, dir+"/data", rootOwner)
}

func TestRootFile(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	write(t, dir+"/f", 0o644)
	if s := fix(t, dir+"/f"); s.Changed != 1 || s.Seen != 1 {
		t.Errorf("%s", s.Summary())
	}
	wantOwner(t, dir+"/f", newOwner)
	write(t, dir+"/g", 0o644)
	link(t, dir+"/g", dir+"/g2")
	s := fix(t, dir+"/g")
	if s.Changed != 0 || len(s.Skipped) != 1 || s.Skipped[0] != q(dir+"/g")+": 2 hard links, 1 outside the tree" {
		t.Errorf("%s %q", s.Summary(), s.Skipped)
	}
	wantOwner(t, dir+"/g", rootOwner)
}

func TestMissingRoot(t *testing.T) {
	dir := t.TempDir()
	_, err := Fix(dir+"/none", New(newUID, newGID))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, unix.ENOENT) || e.Path != dir+"/none" {
		t.Fatalf("error %#v, want an *Error for %s wrapping ENOENT", err, dir+"/none")
	}
	if want := "chown " + q(dir+"/none") + ": cannot open: no such file or directory"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestNoChangeIDRefused(t *testing.T) {
	_, err := Fix(t.TempDir(), New(^uint32(0), 0))
	if err == nil || !strings.Contains(err.Error(), "4294967295") {
		t.Errorf("error %v, want uid 4294967295 refused", err)
	}
}

// An entry the kernel refuses to change (immutable) is left as it is and
// named below the root as given, with the reason; the walk goes on and
// changes the rest.
func TestImmutableFileLeft(t *testing.T) {
	needRoot(t)
	chattr := needTool(t, "chattr", "e2fsprogs")
	dir := scratch(t)
	mkdir(t, dir+"/vol/a/b", 0o755)
	for i := range 50 {
		mkdir(t, dir+"/vol/d"+strconv.Itoa(i)+"/e", 0o755)
		write(t, dir+"/vol/d"+strconv.Itoa(i)+"/e/f", 0o644)
	}
	write(t, dir+"/vol/a/b/locked", 0o644)
	if out, err := runCmd(chattr, "+i", dir+"/vol/a/b/locked"); err != nil {
		need(t, false, "the file system of "+dir+" has no immutable flag: "+out)
	}
	t.Cleanup(func() { runCmd(chattr, "-i", dir+"/vol/a/b/locked") })
	t.Chdir(dir)
	noLeaks(t)
	s, err := Fix("vol", New(newUID, newGID))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"vol/a/b/locked": cannot change owner: operation not permitted`}
	if !slices.Equal(s.Skipped, want) || s.Summary() != `chown "vol": 153 of 154 changed, 1 skipped (cannot be changed)` {
		t.Errorf("%s %q, want %q", s.Summary(), s.Skipped, want)
	}
	wantOwner(t, dir+"/vol/a/b/locked", rootOwner)
	for p, o := range owners(t, dir+"/vol") {
		if o != newOwner && p != "a/b/locked" {
			t.Errorf("%s: owner %s, want %s", p, o, newOwner)
		}
	}
}

// A directory root cannot read (without CAP_DAC_READ_SEARCH, as in a user
// namespace over files of unmapped ids) is left as it is, with what is in
// it, and named; its name, made to forge a log line and retitle a
// terminal, is quoted wherever it is printed. The rest is changed.
func TestUnreadableDirectory(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	dir := scratch(t)
	odd := "x\nerror: fake line\x1b]0;TITLE\a"
	mkdir(t, dir+"/vol/ok", 0o755)
	mkdir(t, dir+"/vol/"+odd, 0o755)
	write(t, dir+"/vol/"+odd+"/f", 0o644)
	lchown(t, dir+"/vol/"+odd, 5, 5)
	if err := os.Chmod(dir+"/vol/"+odd, 0o000); err != nil {
		t.Fatal(err)
	}
	r, _ := runHelper(t, dir, []string{setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"}, "vol")
	want := []string{`"vol/x\nerror: fake line\x1b]0;TITLE\a": cannot open directory: permission denied`}
	if r.Err != "" || !slices.Equal(r.Stats.Skipped, want) || r.Summary != `chown "vol": 2 of 2 changed, 1 skipped (cannot be changed)` {
		t.Errorf("error %q, %s %q; want %q", r.Err, r.Summary, r.Stats.Skipped, want)
	}
	wantOwner(t, dir+"/vol/"+odd+"/f", rootOwner)
	wantOwner(t, dir+"/vol/"+odd, "5:5")
	wantOwner(t, dir+"/vol/ok", newOwner)
}

func TestProgress(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/vol", 0o755)
	for i := range 20 {
		d := dir + "/vol/d" + strconv.Itoa(i)
		mkdir(t, d, 0o755)
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 100 {
			mkfile(t, fd, "f"+strconv.Itoa(j))
		}
		unix.Close(fd)
	}
	// walk gives the tree to root and back with a progress line after
	// the given delay, and returns what was written.
	walk := func(after time.Duration) string {
		if _, err := Fix(dir+"/vol", New(0, 0)); err != nil {
			t.Fatal(err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		o := New(newUID, newGID)
		o.Progress, o.progressAfter = int(w.Fd()), after
		_, err = Fix(dir+"/vol", o)
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := readAll(r)
		return out
	}
	// The default two seconds: a quick walk says nothing.
	if out := walk(0); out != "" {
		t.Errorf("progress %q on a walk shorter than the delay", out)
	}
	// A walk longer than the delay shows the line.
	out := walk(time.Nanosecond)
	if !strings.HasPrefix(out, "\rchown "+q(dir+"/vol")+": ") || !strings.HasSuffix(out, " changed\r\x1b[K") {
		t.Errorf("progress %q, want \\r-rewritten lines cleared at the end", out)
	}
}

func link(t *testing.T, old, new string) {
	t.Helper()
	if err := os.Link(old, new); err != nil {
		t.Fatal(err)
	}
}

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func readAll(f *os.File) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

// TestNarrowEmptyPartLeavesOthers: with only the group given,
// --chown-from=:1000 changes only entries of group 1000; a root file in the
// tree stays root's (the attack: an empty part matched every entry).
func TestNarrowEmptyPartLeavesOthers(t *testing.T) {
	needRoot(t)
	vol := scratch(t) + "/vol"
	mkdir(t, vol, 0o755)
	write(t, vol+"/rootfile", 0o660)
	write(t, vol+"/g1000", 0o644)
	lchown(t, vol+"/g1000", 0, 1000)
	o := New(newUID, newGID)
	o.FromGID = 1000
	if _, err := Fix(vol, o); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, vol+"/rootfile", "0:0")
	wantOwner(t, vol+"/g1000", "4242:4343")
}
