package ownership

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The attack of the issue list's 12.1: the volume /v is the user's, who
// links /v/www to /srv/www; --chown=/v/www/html must not re-own
// /srv/www/html. A link anywhere in the path, the last component included,
// is refused, also with FollowRootSymlinks (the user made it).
func TestParentSymlinkRefused(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/v", 0o755)
	lchown(t, dir+"/v", 2000, 2000)
	mkdir(t, dir+"/srv/www/html", 0o755)
	write(t, dir+"/srv/www/html/index", 0o644)
	if err := os.Symlink(dir+"/srv/www", dir+"/v/www"); err != nil {
		t.Fatal(err)
	}
	lchown(t, dir+"/v/www", 2000, 2000)
	noLeaks(t)
	for _, p := range []string{"/v/www/html", "/v/www/html/", "/v/www/html/index", "/v/www", "/v/www/", "/v/./www/html"} {
		for _, follow := range []bool{false, true} {
			o := New(2000, 2000)
			o.FollowRootSymlinks = follow
			_, err := Fix(dir+p, o)
			want := "chown " + q(dir+p) + ": cannot open: " + q(dir+"/v/www") + " is a symbolic link (to " + q(dir+"/srv/www") + ") that a user other than root could have made or replaced"
			if !errors.Is(err, unix.ELOOP) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s (follow %v): %v, want %q...", p, follow, err, want)
			}
		}
	}
	for _, p := range []string{"/srv/www", "/srv/www/html", "/srv/www/html/index"} {
		wantOwner(t, dir+p, rootOwner)
	}
}

// The issue list's 12.2: every name of the root directory is refused, and
// nothing is walked. (A walk of / that the check missed would change
// nothing either: only entries owned by 4000000000 would change.)
func TestRootDirRefused(t *testing.T) {
	empty := ""
	noLeaks(t)
	o := New(newUID, newGID)
	o.FromUID, o.FromGID = 4000000000, 4000000000
	for _, p := range []string{"/", "//", "/.", "/tmp/..", empty + "/", "/../../..", "/proc/.."} {
		s, err := Fix(p, o)
		if !errors.Is(err, ErrRootDir) || err.Error() != "chown "+q(p)+": is the root directory: giving it away gives away the whole file system" || s.Seen != 0 {
			t.Errorf("%q: %v (%s)", p, err, s.Summary())
		}
	}
	// Through the kernel's "..": from a working directory one level down,
	// "..", and from deeper, as many as it takes.
	t.Chdir("/tmp")
	for _, p := range []string{"..", "../..", "./.."} {
		if _, err := Fix(p, o); !errors.Is(err, ErrRootDir) {
			t.Errorf("%q from /tmp: %v, want ErrRootDir", p, err)
		}
	}
	t.Chdir("/")
	if _, err := Fix(".", o); !errors.Is(err, ErrRootDir) {
		t.Errorf(`"." from /: %v, want ErrRootDir`, err)
	}
}

// The issue list's 12.5: directories created and removed while the walk
// runs (ordinary churn by the program, and an rmdir timed by inotify to
// hit each directory right after the walk opened it) are skipped, never an
// error: 60 walks, no failure.
func TestVanishingDuringWalk(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol := dir + "/vol"
	// Writable directories (each entry through an O_PATH handle) and
	// root-only ones (by name), each with stable files to change and a
	// churn area.
	var areas []string
	for _, m := range []os.FileMode{0o777, 0o755} {
		for i := range 4 {
			d := vol + "/" + strconv.Itoa(int(m)) + "-" + strconv.Itoa(i)
			mkdir(t, d+"/churn", m)
			for j := range 30 {
				write(t, d+"/f"+strconv.Itoa(j), 0o644)
			}
			areas = append(areas, d+"/churn")
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var made, removed atomic.Int64
	// fill makes a directory with files and a subdirectory; empty removes
	// it, as a program cleaning up its temporary directory does.
	fill := func(d string) {
		if os.Mkdir(d, 0o777) != nil {
			return
		}
		os.Mkdir(d+"/sub", 0o777)
		for k := range 5 {
			os.WriteFile(d+"/g"+strconv.Itoa(k), nil, 0o644)
			os.WriteFile(d+"/sub/g"+strconv.Itoa(k), nil, 0o644)
		}
		made.Add(1)
	}
	empty := func(d string) {
		for k := range 5 {
			os.Remove(d + "/sub/g" + strconv.Itoa(k))
			os.Remove(d + "/g" + strconv.Itoa(k))
		}
		os.Remove(d + "/sub")
		if os.Remove(d) == nil {
			removed.Add(1)
		}
	}
	for _, a := range areas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				d := a + "/c" + strconv.Itoa(n%8)
				fill(d)
				empty(a + "/c" + strconv.Itoa((n+4)%8))
			}
		}()
	}
	// The inotify-timed rmdir: each directory the walk opens in an area is
	// emptied and removed at once.
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	watches := map[int32]string{}
	for _, a := range areas {
		wd, err := unix.InotifyAddWatch(in, a, unix.IN_OPEN|unix.IN_ONLYDIR)
		if err != nil {
			t.Fatal(err)
		}
		watches[int32(wd)] = a
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(in, buf)
			if err != nil || n <= 0 || stop.Load() {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if ev.Mask&unix.IN_ISDIR != 0 && ev.Len > 0 {
					if end := slices.Index(name, 0); end > 0 {
						empty(watches[ev.Wd] + "/" + string(name[:end]))
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		// Wake the reader: an open in a watched directory.
		if fd, err := unix.Open(areas[0], unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			unix.Close(fd)
		}
		wg.Wait()
		unix.Close(in)
	})

	failures := 0
	start := time.Now()
	for i := range 60 {
		o := New(newUID, newGID)
		if i%2 == 1 {
			o = New(0, 0) // back to root, so that the next walk has work
		}
		s, err := Fix(vol, o)
		if err != nil {
			failures++
			t.Errorf("walk %d: %v", i, err)
		}
		if s.SkippedCount > 0 {
			t.Errorf("walk %d: %s %q", i, s.Summary(), s.Skipped)
		}
	}
	t.Logf("60 walks in %v; %d directories made, %d removed meanwhile; %d failures", time.Since(start), made.Load(), removed.Load(), failures)
	if made.Load() < 60 || removed.Load() < 60 {
		t.Errorf("too little churn to show anything: %d made, %d removed", made.Load(), removed.Load())
	}
}

// A failure that is not about one entry stops the walk cleanly: a walk
// that runs out of descriptors (EMFILE; parking is turned off) returns the
// error naming where it happened, with every descriptor closed and every
// worker gone.
func TestFailureStopsCleanly(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	// A tree that needs a descriptor per level: each directory has two
	// subdirectories, so the walk holds the parent while it goes down one.
	var make_ func(p string, depth int)
	make_ = func(p string, depth int) {
		mkdir(t, p, 0o777)
		write(t, p+"/f", 0o644)
		if depth > 0 {
			make_(p+"/a", depth-1)
			make_(p+"/b", depth-1)
		}
	}
	make_(dir+"/vol", 8)
	noLeaks(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(openFds(t) + 6)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	o := New(newUID, newGID)
	o.Workers, o.dirBudget = 1, 1000 // no parking: a descriptor per level
	_, err := Fix(dir+"/vol", o)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, syscall.EMFILE) || !strings.HasPrefix(e.Path, dir+"/vol/") {
		t.Fatalf("error %v, want EMFILE below the root", err)
	}
}

// The issue list's 12.7, for real: on a read-only mount, every entry that
// needs a change is left and listed (the start goes on); a restart over a
// read-only tree that is already right says nothing.
func TestReadOnlyMount(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	dir := scratch(t)
	mkdir(t, dir+"/vol/a", 0o755)
	write(t, dir+"/vol/a/f", 0o644)
	write(t, dir+"/vol/g", 0o644)
	ro := []string{unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount --bind vol vol && mount -o remount,bind,ro vol && exec "$1" "$2"`, "sh"}
	r, _ := runHelper(t, dir, ro, "vol")
	want := []string{
		`"vol": cannot change owner: read-only file system`,
		`"vol/a": cannot change owner: read-only file system`,
		`"vol/a/f": cannot change owner: read-only file system`,
		`"vol/g": cannot change owner: read-only file system`,
	}
	if r.Err != "" || !slices.Equal(r.Stats.Skipped, want) || r.Summary != `chown "vol": 0 of 4 changed, 4 skipped (cannot be changed)` {
		t.Errorf("error %q, %s %q; want %q", r.Err, r.Summary, r.Stats.Skipped, want)
	}
	for p, o := range owners(t, dir+"/vol") {
		if o != rootOwner {
			t.Errorf("%s: %s on a read-only mount", p, o)
		}
	}
	fix(t, dir+"/vol")
	if r, _ := runHelper(t, dir, ro, "vol"); r.Err != "" || r.Summary != `chown "vol": 0 of 4 changed` {
		t.Errorf("restart on a read-only mount: error %q, %s", r.Err, r.Summary)
	}
}

// The issue list's 12.7, for real, in a user namespace that maps host ids
// 0 to 9999 only: an entry owned by an unmapped id (host 20000) is left
// and listed (EPERM: root of the namespace has no CAP_CHOWN over it), and
// so is every entry when the new owner itself is not mapped (EINVAL).
func TestUserNamespace(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/vol/mine", 0o755)
	write(t, dir+"/vol/mine/f", 0o644)
	lchown(t, dir+"/vol/mine", 100, 100)
	mkdir(t, dir+"/vol/alien", 0o755)
	write(t, dir+"/vol/alien/f", 0o644)
	lchown(t, dir+"/vol/alien", 20000, 20000)
	write(t, dir+"/vol/alienfile", 0o644)
	lchown(t, dir+"/vol/alienfile", 20000, 20000)
	userns := func(size uint32) *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: int(size)}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: int(size)}}}
	}
	r, _ := runHelperIn(t, dir, userns(10000), nil, "vol")
	want := []string{
		`"vol/alien": cannot change owner: operation not permitted`,
		`"vol/alienfile": cannot change owner: operation not permitted`,
	}
	if r.Err != "" || !slices.Equal(r.Stats.Skipped, want) || r.Summary != `chown "vol": 4 of 6 changed, 2 skipped (cannot be changed)` {
		t.Errorf("unmapped owners: error %q, %s %q; want %q", r.Err, r.Summary, r.Stats.Skipped, want)
	}
	wantOwner(t, dir+"/vol/alien", "20000:20000")
	wantOwner(t, dir+"/vol/alienfile", "20000:20000")
	for _, p := range []string{"", "/mine", "/mine/f", "/alien/f"} {
		wantOwner(t, dir+"/vol"+p, newOwner)
	}

	// The new owner (4242) unmapped: nothing can be given to it.
	fixTo(t, dir+"/vol", 0, 0)
	r, _ = runHelperIn(t, dir, userns(1000), nil, "vol")
	if r.Err != "" || r.Stats.Changed != 0 || r.Stats.SkippedCount != 6 || !strings.Contains(strings.Join(r.Stats.Skipped, "\n"), `"vol/mine": cannot change owner: invalid argument`) {
		t.Errorf("unmapped new owner: error %q, %s %q", r.Err, r.Summary, r.Stats.Skipped)
	}
}

// fixTo gives the tree at path to uid:gid.
func fixTo(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	if _, err := Fix(path, New(uid, gid)); err != nil {
		t.Fatal(err)
	}
}
