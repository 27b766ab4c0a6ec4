package resolve

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"gosu/internal/testenv"
)

// tree makes a directory standing for "/" (root-owned and mode 0755 when
// the test runs as root, so that only root can change it) and returns it.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func lchown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func ino(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// opens resolves name under root and returns the inode it got.
func opens(t *testing.T, root, name string, follow bool) (uint64, error) {
	t.Helper()
	fd, err := open(root, name, follow)
	if err != nil {
		if fd != -1 {
			t.Errorf("%s: descriptor %d with error %v", name, fd, err)
		}
		return 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t.Errorf("%s: got a symbolic link", name)
	}
	return st.Ino, nil
}

// noLeaks checks, at the end of the test, that no descriptor into root is
// left open. (Counting every descriptor would count those the Go runtime
// opens on first use: the poller, cgroup files.)
func noLeaks(t *testing.T, root string) {
	t.Helper()
	t.Cleanup(func() {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if to, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(to, root) {
				t.Errorf("descriptor %s left open: %s", e.Name(), to)
			}
		}
	})
}

// Names that clean to the root open the root; ".." never climbs above it;
// a missing component and a file in the middle are the kernel's errors.
func TestCleanAndErrors(t *testing.T) {
	root := tree(t)
	noLeaks(t, root)
	mkdir(t, root+"/a/b", 0o755)
	if err := os.WriteFile(root+"/a/f", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/", "//", "/.", "/a/..", "/a/../..", "/..", "/./a/b/../../"} {
		if got, err := opens(t, root, name, false); err != nil || got != ino(t, root) {
			t.Errorf("%q: inode %d, %v; want the root's", name, got, err)
		}
	}
	for name, want := range map[string]string{"/a/b": "/a/b", "/a//b/": "/a/b", "/a/b/../f": "/a/f", "/x/../a/f": "/a/f"} {
		if got, err := opens(t, root, name, false); err != nil || got != ino(t, root+want) {
			t.Errorf("%q: inode %d, %v; want %s's", name, got, err, want)
		}
	}
	for name, want := range map[string]error{"": unix.ENOENT, "/none": unix.ENOENT, "/a/none/b": unix.ENOENT, "/a/f/b": unix.ENOTDIR, "/a/f/": unix.ENOTDIR} {
		if _, err := opens(t, root, name, false); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", name, err, want)
		}
	}
	// A relative name starts at the working directory, and may climb from
	// it where only root could have moved it (the tree is root's when the
	// test runs as root; otherwise TestDotDot's refusal).
	t.Chdir(root + "/a/b")
	for name, want := range map[string]string{".": "/a/b", "..": "/a", "../f": "/a/f", "../../a/b": "/a/b"} {
		got, err := opens(t, root, name, false)
		switch {
		case os.Geteuid() != 0 && name != ".":
			if !errors.Is(err, unix.EPERM) {
				t.Errorf("relative %q, not as root: %v, want EPERM", name, err)
			}
		case err != nil || got != ino(t, root+want):
			t.Errorf("relative %q: inode %d, %v; want %s's", name, got, err, want)
		}
	}
}

// A ".." climbs only out of a directory that no user can have moved: one
// only root can change, or one in a directory only root can change. A
// program started in /vol/a/app (the volume /vol is a user's), where
// "../.." meant /vol, was moved by the user to /vol/app: "../.." was then
// the directory the volume is mounted in, and --chown=../.. gave it away
// (e2e TestChownDotDotOutOfMovedDirectory).
func TestDotDot(t *testing.T) {
	testenv.NeedRoot(t, "the directories must be owned by root and by a user")
	root := tree(t)
	noLeaks(t, root)
	mkdir(t, root+"/vol/a/app", 0o755)
	mkdir(t, root+"/vol/b", 0o755)
	mkdir(t, root+"/vol/a/rb", 0o755)
	mkdir(t, root+"/home/u", 0o755)
	mkdir(t, root+"/open/r", 0o755)
	if err := os.Chmod(root+"/open", 0o777); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/vol", "/vol/a", "/vol/a/app", "/home/u"} {
		lchown(t, root+p, 2000)
	}
	for _, c := range []struct{ cwd, name, want, at string }{
		{"/vol/a/app", "..", "", ".."},
		{"/vol/a/app", "../../b", "", ".."},
		{"/vol/a/app", ".", "/vol/a/app", ""},
		{"/vol/a/app/", "../", "", ".."},
		{"/vol/b", "..", "/vol", ""},   // root's own directory
		{"/home/u", "..", "/home", ""}, // a user's, in a directory only root can change
		{"/open/r", "..", "/open", ""}, // root's own, in a directory anyone can change
		{"/home/u", "../../vol/b", "/vol/b", ""},
		{"/vol/a/rb", "..", "/vol/a", ""},
		{"/vol/a/rb", "../..", "", "../.."}, // out of the user's /vol/a, into their /vol
		{"/vol/b", "../..", "/", ""},        // out of the user's /vol, into /
		{"/open/r", "../..", "/", ""},
	} {
		t.Chdir(root + c.cwd)
		got, err := opens(t, root, c.name, true)
		if c.want != "" {
			if err != nil || got != ino(t, root+c.want) {
				t.Errorf("%q from %s: inode %d, %v; want %s's", c.name, c.cwd, got, err, c.want)
			}
			continue
		}
		want := quote(c.at) + " climbs out of a directory a user could have moved: give the path from /"
		if !errors.Is(err, unix.EPERM) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q from %s: %v, want EPERM and a message that starts with %q", c.name, c.cwd, err, want)
		}
	}
}

// A symbolic link in any component, the last included (also with a
// trailing slash), is refused and named, whether it leads out of the tree
// or stays in it: 12.1 of the issue list (ln -s /srv/www /v/www, then
// --chown=/v/www/html) and the /PATH user spec's planted link.
func TestLinkRefused(t *testing.T) {
	root := tree(t)
	noLeaks(t, root)
	mkdir(t, root+"/v", 0o777)
	mkdir(t, root+"/srv/www/html", 0o755)
	symlink(t, root+"/srv/www", root+"/v/www")
	symlink(t, "www/html", root+"/v/rel")
	symlink(t, "x\n\x1b]0;TITLE\a", root+"/v/odd")
	for _, c := range []struct{ name, link, target string }{
		{"/v/www/html", "/v/www", root + "/srv/www"},
		{"/v/www", "/v/www", root + "/srv/www"},
		{"/v/www/", "/v/www", root + "/srv/www"},
		{"/v/www/html/../..", "/", ""}, // cleans to "/": no link on the way
		{"/v/rel", "/v/rel", "www/html"},
		{"/v/odd/x", "/v/odd", "x\n\x1b]0;TITLE\a"},
	} {
		for _, follow := range []bool{false, true} {
			_, err := opens(t, root, c.name, follow)
			if c.target == "" {
				if err != nil {
					t.Errorf("%q: %v", c.name, err)
				}
				continue
			}
			if !errors.Is(err, unix.ELOOP) {
				t.Errorf("%q (follow %v): %v, want ELOOP", c.name, follow, err)
				continue
			}
			want := `"` + c.link + `" is a symbolic link (to ` + quote(c.target) + `) that a user other than root could have made or replaced`
			if !strings.HasPrefix(err.Error(), want) || strings.ContainsAny(err.Error(), "\n\x1b\a") {
				t.Errorf("%q: %q, want it to start with %q", c.name, err, want)
			}
		}
	}
}

func quote(s string) string {
	return strings.NewReplacer("\n", `\n`, "\x1b", `\x1b`, "\a", `\a`).Replace(`"` + s + `"`)
}

// The links only root could have made (owned by root, in directories that
// from the root down only root can change) are followed with followRoot,
// and only then; every other link stays refused with it.
func TestRootLinks(t *testing.T) {
	testenv.NeedRoot(t, "links only root could have made must be owned by root")
	root := tree(t)
	noLeaks(t, root)
	mkdir(t, root+"/run/app", 0o755)
	mkdir(t, root+"/var", 0o755)
	symlink(t, "/run", root+"/var/run")       // Debian's
	symlink(t, "../run", root+"/var/run2")    // relative, through ..
	symlink(t, "run2/app", root+"/var/chain") // a link to a link
	symlink(t, "/var/loop", root+"/var/loop")
	// Links a user could have made or swapped: in a directory others can
	// write to, owned by a user, below a directory a user owns, and in a
	// root-only directory whose own parent is group-writable.
	mkdir(t, root+"/tmp", 0o1777)
	symlink(t, "/run", root+"/tmp/run")
	symlink(t, "/run", root+"/var/userlink")
	lchown(t, root+"/var/userlink", 2000)
	mkdir(t, root+"/home/u/d", 0o755)
	lchown(t, root+"/home/u", 2000)
	symlink(t, "/run", root+"/home/u/d/run")
	mkdir(t, root+"/grp/d", 0o755)
	if err := os.Chmod(root+"/grp", 0o775); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/run", root+"/grp/d/run")

	app := ino(t, root+"/run/app")
	for _, name := range []string{"/var/run/app", "/var/run2/app", "/var/chain", "/var/chain/", "/var/run/../run/app"} {
		if got, err := opens(t, root, name, true); err != nil || got != app {
			t.Errorf("%q with followRoot: inode %d, %v; want /run/app's", name, got, err)
		}
		_, err := opens(t, root, name, false)
		if !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "--follow-root-symlinks (only root can have made this one)") {
			t.Errorf("%q without followRoot: %v, want a refusal that names the option", name, err)
		}
	}
	if _, err := opens(t, root, "/var/loop", true); !errors.Is(err, unix.ELOOP) {
		t.Errorf("a loop: %v, want ELOOP", err)
	}
	for _, name := range []string{"/tmp/run/app", "/var/userlink/app", "/home/u/d/run/app", "/grp/d/run/app"} {
		_, err := opens(t, root, name, true)
		if !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "a user other than root could have made") {
			t.Errorf("%q with followRoot: %v, want a refusal", name, err)
		}
	}
	// A link root made that leads into a user's directory: its target is
	// walked with the same checks, so the user's link there is refused,
	// and so is a link root made below it (the user could have swapped
	// it); a plain directory there is reached.
	symlink(t, "/home/u/d/run/app", root+"/var/touser")
	symlink(t, "/home/u/d", root+"/var/touserdir")
	symlink(t, "/run", root+"/home/u/d/rootrun")
	for _, name := range []string{"/var/touser", "/var/touserdir/run/app", "/var/touserdir/rootrun/app"} {
		_, err := opens(t, root, name, true)
		if !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "a user other than root could have made") {
			t.Errorf("%q with followRoot: %v, want a refusal", name, err)
		}
	}
	if got, err := opens(t, root, "/var/touserdir", true); err != nil || got != ino(t, root+"/home/u/d") {
		t.Errorf("/var/touserdir with followRoot: inode %d, %v; want /home/u/d's", got, err)
	}
	// A relative name never follows one.
	t.Chdir(root + "/var")
	if _, err := opens(t, root, "run/app", true); !errors.Is(err, unix.ELOOP) {
		t.Errorf("relative run/app with followRoot: %v, want a refusal", err)
	}
}

// A component swapped between a directory and a symbolic link to one
// outside (RENAME_EXCHANGE, so both names always exist) while names through
// it are resolved: every open gives the directory inside or fails, never
// what the link leads to.
func TestSwapRace(t *testing.T) {
	root := tree(t)
	noLeaks(t, root)
	mkdir(t, root+"/v/www/html", 0o755)
	mkdir(t, root+"/srv/www/html", 0o755)
	symlink(t, root+"/srv/www", root+"/v/link")
	if err := os.Chmod(root+"/v", 0o777); err != nil {
		t.Fatal(err)
	}
	inside, outside := ino(t, root+"/v/www/html"), ino(t, root+"/srv/www/html")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, root+"/v/www", unix.AT_FDCWD, root+"/v/link", unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var got, refused int
	for range 20000 {
		for _, follow := range []bool{false, true} {
			n, err := opens(t, root, "/v/www/html", follow)
			switch {
			case err != nil:
				refused++
			case n == outside:
				t.Fatal("followed the swapped-in link")
			case n == inside:
				got++
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d opened the directory inside, %d refused", got, refused)
	if got == 0 || refused == 0 {
		t.Errorf("the swap was not raced: %d opened, %d refused", got, refused)
	}
}

// A path of 2,100 components (4,200 bytes, beyond PATH_MAX, which open(2)
// would refuse) resolves one component at a time, with two descriptors at
// most. (The walk below a --chown root is tested 10,000 deep in package
// ownership; a chain that deep takes seconds to make and remove.)
func TestDeepPath(t *testing.T) {
	root := tree(t)
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 2100 {
		if err := unix.Mkdirat(fd, "a", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "a", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, root)
	name := "/" + strings.Repeat("a/", 2100)
	got, err := opens(t, root, name, false)
	if err != nil || got != st.Ino {
		t.Errorf("2,100 components: inode %d, %v; want %d", got, err, st.Ino)
	}
}

// A link in /proc is never followed, even with followRoot: /proc/PID and
// its links belong to the process's effective uid (root for a setuid-root
// program a user started, such as su waiting for a password), and a magic
// link's text is what that process chose. A user who started one in
// /etc made /proc/PID/cwd a root-owned link, in root-owned directories
// nobody can write, that led to /etc: --follow-root-symlinks
// --chown=/proc/PID/cwd gave /etc away (e2e TestProcLinksNotFollowed does
// it with a setuid copy of sleep). Here a child of the test, started in a
// directory of its choosing, stands for that program.
func TestProcLinksRefused(t *testing.T) {
	dir := t.TempDir()
	noLeaks(t, dir)
	sleep := testenv.NeedTool(t, "sleep", "coreutils")
	cmd := exec.Command(sleep, "60")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, c := range []struct{ name, link, target string }{
		{"/proc/" + pid + "/cwd", "/proc/" + pid + "/cwd", dir},
		{"/proc/" + pid + "/cwd/", "/proc/" + pid + "/cwd", dir},
		{"/proc/" + pid + "/root/etc", "/proc/" + pid + "/root", "/"},
		{"/proc/self/cwd", "/proc/self", strconv.Itoa(os.Getpid())},
	} {
		for _, follow := range []bool{false, true} {
			fd, err := Open(c.name, follow)
			if err == nil {
				unix.Close(fd)
			}
			want := quote(c.link) + " is a symbolic link (to " + quote(c.target) + "), a /proc link that a process chose, which is not followed: "
			if !errors.Is(err, unix.ELOOP) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%q (follow %v): %v, want ELOOP and a message that starts with %q", c.name, follow, err, want)
			}
		}
	}
}
