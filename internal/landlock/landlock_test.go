package landlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/testenv"
)

// TestMain also serves as the confined child of TestRestrict: the rules are
// applied to a process's thread, which a test cannot undo, so they are
// applied in a fresh copy of the test binary.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GOSU_LANDLOCK_CHILD"); dir != "" {
		if abi := os.Getenv("GOSU_LANDLOCK_ABI"); abi != "" {
			olderABIChild(dir, abi)
		} else {
			restrictedChild(dir)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDecide: a missing Landlock is an error, or with --landlock-best-effort
// a warning and nothing applied; a kernel newer than gosu gets gosu's newest
// ABI.
func TestDecide(t *testing.T) {
	for _, errno := range []syscall.Errno{unix.ENOSYS, unix.EOPNOTSUPP, unix.EPERM} {
		abi, warning, err := decide(0, errno, false)
		if abi != 0 || warning != "" || !errors.Is(err, errno) ||
			err.Error() != "Landlock is not available here (landlock_create_ruleset: "+errno.Error()+"); refusing to run COMMAND unconfined (--landlock-best-effort would run it with a warning)" {
			t.Errorf("%v: %d, %q, %v", errno, abi, warning, err)
		}
		abi, warning, err = decide(0, errno, true)
		if abi != 0 || err != nil ||
			warning != "warning: --landlock-best-effort: Landlock is not available here (landlock_create_ruleset: "+errno.Error()+"); COMMAND runs without the file-system confinement of --landlock-write and --landlock-read" {
			t.Errorf("%v, best effort: %d, %q, %v", errno, abi, warning, err)
		}
	}
	if _, _, err := decide(0, nil, false); err == nil {
		t.Error("ABI 0 without an error: no error")
	}
	for abi, want := range map[int]int{1: 1, 3: 3, 7: 7, 8: MaxABI, 100: MaxABI} {
		if got, warning, err := decide(abi, nil, false); got != want || warning != "" || err != nil {
			t.Errorf("ABI %d: %d, %q, %v; want %d", abi, got, warning, err, want)
		}
	}
}

// TestRights: every right of each ABI is handled, and a rule grants what
// its kind of path can hold.
func TestRights(t *testing.T) {
	const all = unix.LANDLOCK_ACCESS_FS_IOCTL_DEV<<1 - 1
	for abi, want := range map[int]uint64{0: 0, 1: 0x1fff, 2: 0x3fff, 3: 0x7fff, 4: 0x7fff, 5: all, 6: all, 7: all} {
		if got := Rights(abi); got != want {
			t.Errorf("Rights(%d) = %#x, want %#x", abi, got, want)
		}
	}
	if got := RightNames(Rights(MaxABI)); len(got) != 16 || got[0] != "execute" || got[13] != "refer" || got[15] != "ioctl_dev" {
		t.Errorf("RightNames = %q", got)
	}
	for _, c := range []struct {
		abi        int
		write, dir bool
		want       string
	}{
		{7, false, true, "execute read_file read_dir"},
		{7, false, false, "execute read_file"},
		{7, true, false, "execute write_file read_file truncate ioctl_dev"},
		{2, true, false, "execute write_file read_file"},
		// No rule lets a device node be made (deviceRights).
		{1, true, true, "execute write_file read_file read_dir remove_dir remove_file make_dir make_reg make_sock make_fifo make_sym"},
		{7, true, true, "execute write_file read_file read_dir remove_dir remove_file make_dir make_reg make_sock make_fifo make_sym refer truncate ioctl_dev"},
	} {
		if got := strings.Join(RightNames(access(c.abi, c.write, c.dir)), " "); got != c.want {
			t.Errorf("access(%d, write %v, dir %v) = %s, want %s", c.abi, c.write, c.dir, got, c.want)
		}
	}
	if got := strings.Join(Unhandled(2), ", "); got != "truncating files, ioctl on devices, signals and abstract unix sockets" {
		t.Errorf("Unhandled(2) = %s", got)
	}
	if Unhandled(6) != nil || scopes(5) != 0 || scopes(6) == 0 || restrictFlags(6) != 0 || restrictFlags(7) == 0 {
		t.Error("ABI 6 and 7 additions")
	}
}

func TestAddPaths(t *testing.T) {
	var list []string
	if err := AddPaths(&list, "/a,/b c"); err != nil || len(list) != 2 || list[1] != "/b c" {
		t.Errorf("%q, %v", list, err)
	}
	for _, v := range []string{"", "/a,", "a", "/a,,/b", "~/x"} {
		if err := AddPaths(&list, v); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
}

// tree makes dir/{w,o} and links in it, and returns dir.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"w", "o", "w/sub"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "o/file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"link": "w", "w/up": "..", "w/sub/abs": "/etc"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(dir, "o/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOpenNoFollow: a symbolic link in any component is refused, and named;
// "..", repeated slashes and special files are fine (O_PATH opens a FIFO
// without waiting for a writer). Paths are cleaned by name first, as for
// --chown (package resolve).
func TestOpenNoFollow(t *testing.T) {
	dir := tree(t)
	for _, c := range []struct{ path, err string }{
		{dir + "/w", ""},
		{dir + "//w/sub/", ""},
		{dir + "/w/../o", ""},
		{dir + "/o/fifo", ""},
		{"/", ""},
		{dir + "/link", quote(dir+"/link") + " is a symbolic link"},
		{dir + "/link/sub", quote(dir+"/link") + " is a symbolic link"},
		{dir + "/w/up/o", quote(dir+"/w/up") + " is a symbolic link"},
		{dir + "/w/sub/abs/", quote(dir+"/w/sub/abs") + " is a symbolic link"},
		{"/proc/self/status", `"/proc/self" is a symbolic link`},
		{dir + "/nope", "no such file or directory"},
		{dir + "/o/file/", "not a directory"},
		{dir + "/o/file/x", "not a directory"},
	} {
		fd, st, err := openPath(c.path, false)
		if c.err == "" {
			if err != nil {
				t.Errorf("%s: %v", c.path, err)
				continue
			}
			flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			cloexec, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			var want unix.Stat_t
			unix.Stat(c.path, &want)
			if flags&unix.O_PATH == 0 || cloexec != unix.FD_CLOEXEC || st.Ino != want.Ino || st.Dev != want.Dev {
				t.Errorf("%s: flags %#x, fd flags %#x, inode %d (want %d)", c.path, flags, cloexec, st.Ino, want.Ino)
			}
			unix.Close(fd)
			continue
		}
		if err == nil || fd != -1 || !strings.Contains(": "+err.Error(), c.err) {
			t.Errorf("%s: %d, %v; want %q", c.path, fd, err, c.err)
		} else if strings.Contains(c.err, "symbolic") && !errors.Is(err, unix.ELOOP) {
			t.Errorf("%s: %v does not unwrap to ELOOP", c.path, err)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

// openFDs counts this process's descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func needLandlock(t *testing.T) int {
	t.Helper()
	abi, err := ABI()
	testenv.Need(t, err == nil, "needs Landlock in the kernel: "+errString(err))
	return abi
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestOpen: the paths become descriptors and rules, every error closes what
// was opened, and a root directory, however written, is refused.
func TestOpen(t *testing.T) {
	abi := min(needLandlock(t), MaxABI)
	dir := tree(t)
	before := openFDs(t)
	r, warning, err := Open(Request{Write: []string{dir + "/w", dir + "/o/fifo"}})
	if err != nil || warning != "" || r.ABI != abi || len(r.Write) != 2 || len(r.Read) != 1 || !r.Check() {
		t.Fatalf("Open: %+v, %q, %v", r, warning, err)
	}
	paths := r.Paths()
	if len(paths) != 3 || paths[0] != (Path{dir + "/w", Rights(abi) &^ deviceRights}) || paths[1] != (Path{dir + "/o/fifo", access(abi, true, false)}) ||
		paths[2] != (Path{"/", access(abi, false, true)}) {
		t.Errorf("Paths = %+v", paths)
	}
	r.Inherit()
	for _, fd := range r.fds() {
		if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl != 0 {
			t.Errorf("fd %d after Inherit: flags %#x", fd, fl)
		}
	}
	r.Close()
	if n := openFDs(t); n != before {
		t.Errorf("%d descriptors after Close, %d before", n, before)
	}

	r, _, err = Open(Request{Write: []string{dir + "/w"}, Read: []string{dir + "/o", "/usr"}})
	if err != nil || len(r.Read) != 2 || len(r.Paths()) != 3 || r.Paths()[2].Name != "/usr" {
		t.Errorf("with --landlock-read: %+v, %v", r, err)
	}
	r.Close()

	for _, req := range []Request{
		{Write: []string{dir + "/w", dir + "/nope"}},
		{Write: []string{dir + "/w"}, Read: []string{dir + "/link"}},
		{Write: []string{"/"}},
		{Read: []string{dir + "/w", "//"}},
		{Write: []string{dir + "/w/../../../../../../../.."}},
	} {
		r, warning, err := Open(req)
		if err == nil || warning != "" || len(r.fds()) != 0 {
			t.Errorf("%+v: %+v, %q, %v", req, r, warning, err)
		}
		if n := openFDs(t); n != before {
			t.Errorf("%+v: %d descriptors left open, %d before", req, n, before)
		}
	}
	if _, _, err := Open(Request{Write: []string{"/"}}); err == nil || err.Error() != `--landlock-write: "/": the root directory: a rule for it would confine nothing` {
		t.Errorf("root: %v", err)
	}
	if r, _, err := Open(Request{}); err != nil || len(r.Paths()) != 0 || r.ABI != 0 {
		t.Errorf("nothing asked: %+v, %v", r, err)
	}
}

// TestCheck: the numeric form cannot hand a fresh gosu descriptors that are
// not O_PATH, stdio, or rules without an ABI gosu knows.
func TestCheck(t *testing.T) {
	needLandlock(t)
	r, _, err := Open(Request{Read: []string{"/usr"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plain, err := unix.Open("/usr", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(plain)
	fd := r.Read[0]
	for _, bad := range []Rules{
		{ABI: MaxABI + 1, Read: []int{fd}},
		{ABI: -1, Read: []int{fd}},
		{ABI: 0, Read: []int{fd}},
		{ABI: 0, Write: []int{fd}},
		{ABI: 1, Write: []int{fd}},
		{ABI: 1, Read: []int{1}},
		{ABI: 1, Read: []int{plain}},
		{ABI: 1, Read: []int{fd, 999}},
	} {
		if bad.Check() {
			t.Errorf("%+v passes", bad)
		}
	}
	if !(&Rules{}).Check() || !(&Rules{ABI: 1, Write: []int{fd}, Read: []int{fd}}).Check() {
		t.Error("good rules refused")
	}
}

// TestRestrict runs a copy of the test binary that confines its main thread
// to dir/w and reports what it could do afterwards. Landlock needs no root,
// only no_new_privs. It shows three things: the rules hold on the confined
// thread and in what it starts; a thread that did not call
// landlock_restrict_self is not confined (which is why gosu confines the
// thread that execs); and the rules follow the descriptors opened first, not
// a name swapped afterwards.
func TestRestrict(t *testing.T) {
	needLandlock(t)
	sh := testenv.NeedTool(t, "sh", "dash")
	dir := tree(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOSU_LANDLOCK_CHILD="+dir, "SH="+sh)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "restricted\n" +
		"write w/a: ok\n" +
		"write w/sub/b: ok\n" +
		"write o/a: EACCES\n" +
		"write /tmp: EACCES\n" +
		"mkdir o/d: EACCES\n" +
		"rename w/a o/a: EACCES\n" +
		"link o/file w/file: EXDEV\n" +
		"truncate o/file: EACCES\n" +
		"read o/file: ok\n" +
		"swapped w for a link to o\n" +
		"write w2/c: ok\n" +
		"write w/c (into o): EACCES\n" +
		"shell writes o/s: EACCES\n" +
		"other thread writes o/t: ok\n"
	if string(out) != want {
		t.Errorf("child reported:\n%s\nwant:\n%s", out, want)
	}
	for name, exists := range map[string]bool{"w2/a": true, "w2/c": true, "o/a": false, "o/d": false, "o/s": false, "o/t": true} {
		if _, err := os.Lstat(filepath.Join(dir, name)); (err == nil) != exists {
			t.Errorf("%s: %v, want it to exist: %v", name, err, exists)
		}
	}
}

// restrictedChild is TestRestrict's confined copy.
func restrictedChild(dir string) {
	runtime.LockOSThread()
	say := func(s string) { os.Stdout.WriteString(s + "\n") }
	try := func(what string, err error) {
		res := "ok"
		if errno, ok := err.(syscall.Errno); ok {
			res = unix.ErrnoName(errno)
		} else if err != nil {
			res = err.Error()
		}
		say(what + ": " + res)
	}
	write := func(path string) error {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	r, _, err := Open(Request{Write: []string{dir + "/w"}})
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	// The user swaps the listed directory for a link to another one after
	// gosu opened it: the rules are made from what was opened.
	if err == nil {
		err = os.Rename(dir+"/w", dir+"/w2")
	}
	if err == nil {
		err = os.Symlink("o", dir+"/w")
	}
	if err == nil {
		err = r.Restrict()
	}
	if err != nil {
		say("restrict: " + err.Error())
		return
	}
	say("restricted")
	try("write w/a", write(dir+"/w2/a"))
	try("write w/sub/b", write(dir+"/w2/sub/b"))
	try("write o/a", write(dir+"/o/a"))
	try("write /tmp", write("/tmp/gosu-landlock-test-"+filepath.Base(dir)))
	try("mkdir o/d", unix.Mkdir(dir+"/o/d", 0o755))
	try("rename w/a o/a", unix.Rename(dir+"/w2/a", dir+"/o/a"))
	try("link o/file w/file", unix.Link(dir+"/o/file", dir+"/w2/file"))
	try("truncate o/file", unix.Truncate(dir+"/o/file", 0))
	fd, err := unix.Open(dir+"/o/file", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	try("read o/file", err)
	say("swapped w for a link to o")
	try("write w2/c", write(dir+"/w2/c"))
	try("write w/c (into o)", write(dir+"/w/c"))
	// A process started by the confined thread inherits the rules. (The
	// shell's own message goes to stderr, which is discarded.)
	sh := exec.Command(os.Getenv("SH"), "-c", "echo > o/s")
	sh.Dir = dir
	sh.Run()
	_, err = os.Lstat(dir + "/o/s")
	if err == nil {
		try("shell writes o/s", nil)
	} else {
		try("shell writes o/s", unix.EACCES)
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // another thread, never confined
		done <- write(dir + "/o/t")
	}()
	try("other thread writes o/t", <-done)
}

// TestOlderABIs confines a copy of the test binary with the rules gosu makes
// for each older ABI (this kernel accepts them all), and checks that what
// docs/landlock.md says such a kernel leaves open is open, and the rest
// shut: truncate(2) from ABI 3, ioctl on devices from 5, signals from 6;
// with ABI 1 a rename into another directory is denied even within the
// write tree.
func TestOlderABIs(t *testing.T) {
	if abi := needLandlock(t); abi < MaxABI {
		testenv.Need(t, false, "needs Landlock ABI "+strconv.Itoa(MaxABI)+" to try every older one; the kernel has "+strconv.Itoa(abi))
	}
	for abi := 1; abi <= MaxABI; abi++ {
		dir := tree(t)
		if err := os.WriteFile(dir+"/w/a", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "GOSU_LANDLOCK_CHILD="+dir, "GOSU_LANDLOCK_ABI="+strconv.Itoa(abi))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ABI %d: %v\n%s", abi, err, out)
		}
		pick := func(older, newer string, from int) string {
			if abi < from {
				return older
			}
			return newer
		}
		want := "write o/x: EACCES\n" +
			"truncate o/file: " + pick("ok", "EACCES", 3) + "\n" +
			"rename w/a w/sub/a: " + pick("EXDEV", "ok", 2) + "\n" +
			"ioctl /dev/null: " + pick("ENOTTY", "EACCES", 5) + "\n" +
			"kill parent: " + pick("ok", "EPERM", 6) + "\n"
		if string(out) != want {
			t.Errorf("ABI %d:\n%s\nwant:\n%s", abi, out, want)
		}
	}
}

// olderABIChild is TestOlderABIs's confined copy.
func olderABIChild(dir, abi string) {
	runtime.LockOSThread()
	try := func(what string, err error) {
		res := "ok"
		if errno, ok := err.(syscall.Errno); ok {
			res = unix.ErrnoName(errno)
		} else if err != nil {
			res = err.Error()
		}
		os.Stdout.WriteString(what + ": " + res + "\n")
	}
	r, _, err := Open(Request{Write: []string{dir + "/w"}})
	if err == nil {
		r.ABI, err = strconv.Atoi(abi)
	}
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		err = r.Restrict()
	}
	if err != nil {
		try("restrict", err)
		return
	}
	fd, err := unix.Open(dir+"/o/x", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err == nil {
		unix.Close(fd)
	}
	try("write o/x", err)
	try("truncate o/file", unix.Truncate(dir+"/o/file", 0))
	try("rename w/a w/sub/a", unix.Rename(dir+"/w/a", dir+"/w/sub/a"))
	if fd, err = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		_, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		unix.Close(fd)
	}
	try("ioctl /dev/null", err)
	try("kill parent", unix.Kill(os.Getppid(), 0))
}

// TestOpenDotDot: ".." is resolved in the name, before anything is opened,
// so the directory named before it is never entered. The user the command
// runs as owns dir/w/a and may move it; had ".." been resolved by opening
// it from a, renaming a into another directory of the same file system
// (/tmp, world-writable) at the right moment would have made a rule for
// "dir/w/a/.." one for that directory (372 of 20,512 opens did, before).
// The race runs here for a second: every result must be dir/w.
func TestOpenDotDot(t *testing.T) {
	dir := tree(t)
	if err := os.Mkdir(dir+"/w/a", 0o755); err != nil {
		t.Fatal(err)
	}
	// Not even looked at: a missing directory and a file before "..".
	for _, c := range []struct{ path, want string }{
		{dir + "/w/a/..", dir + "/w"},
		{dir + "/w/missing/..", dir + "/w"},
		{dir + "/o/file/../../w", dir + "/w"},
		{dir + "/link/..", dir},
	} {
		fd, st, err := openPath(c.path, false)
		var want unix.Stat_t
		unix.Stat(c.want, &want)
		if err != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			t.Errorf("%s: %v, inode %d; want %s (%d)", c.path, err, st.Ino, c.want, want.Ino)
		}
		unix.Close(fd)
	}

	race(t, dir+"/w/a/..", dir+"/w", 0, func() {
		unix.Rename(dir+"/w/a", dir+"/o/a")
		unix.Rename(dir+"/o/a", dir+"/w/a")
	})
}

// TestOpenSwap: the user exchanges a directory on the path with a
// symbolic link to another one (RENAME_EXCHANGE, atomic), in a loop, while
// gosu opens the path: each open gives the directory's own file, or
// refuses the link, never the other directory's.
func TestOpenSwap(t *testing.T) {
	dir := tree(t)
	for _, d := range []string{"w/sub/x", "o/x"} {
		if err := os.Mkdir(dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dir+"/o", dir+"/w/l"); err != nil {
		t.Fatal(err)
	}
	race(t, dir+"/w/sub/x", dir+"/w/sub/x", unix.ELOOP, func() {
		unix.Renameat2(unix.AT_FDCWD, dir+"/w/sub", unix.AT_FDCWD, dir+"/w/l", unix.RENAME_EXCHANGE)
	})
}

// race opens path for a second while swap runs in a loop on another
// thread: every open must give the file want is when the race starts, or
// fail with the errno allowed (none when 0), which it then must do at
// times, to show that the race ran.
func race(t *testing.T, path, want string, allowed syscall.Errno, swap func()) {
	t.Helper()
	var w unix.Stat_t
	if err := unix.Stat(want, &w); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				swap()
				swap()
			}
		}
	}()
	elsewhere, opened, failed := 0, 0, 0
	for start := time.Now(); time.Since(start) < time.Second; {
		fd, st, err := openPath(path, false)
		if err != nil {
			if allowed == 0 || !errors.Is(err, allowed) {
				t.Errorf("%s: %v", path, err)
			}
			failed++
			continue
		}
		unix.Close(fd)
		opened++
		if st.Ino != w.Ino || st.Dev != w.Dev {
			elsewhere++
		}
	}
	close(stop)
	<-done
	if elsewhere > 0 || opened == 0 || (failed == 0) != (allowed == 0) {
		t.Errorf("%s opened %d times, %d of them not %s; failed %d times", path, opened, elsewhere, want, failed)
	}
}
