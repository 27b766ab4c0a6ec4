package ownership

import (
	"os"
	"path/filepath"
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

// Below the root, a tmpfs (another file system), a bind mount of a
// directory of the same file system and a file bind-mounted over a file:
// none is entered or changed, and each is named. The mounts are made in a
// private mount namespace that ends with the helper.
func TestMountsNotEntered(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	dir := scratch(t)
	mkdir(t, dir+"/vol/tmp", 0o755)
	mkdir(t, dir+"/vol/bind", 0o755)
	mkdir(t, dir+"/vol/sub", 0o755)
	write(t, dir+"/vol/sub/secret", 0o600)
	write(t, dir+"/vol/f", 0o644)
	mkdir(t, dir+"/other/in", 0o755)
	write(t, dir+"/other/in/g", 0o644)
	write(t, dir+"/key", 0o600)
	script := `set -e
mount -t tmpfs -o mode=0755 none vol/tmp
touch vol/tmp/f
mount --bind other vol/bind
mount --bind key vol/sub/secret
"$1" "$2"
stat -c '%u:%g %n' vol/tmp vol/tmp/f vol/bind vol/bind/in vol/sub/secret`
	r, out := runHelper(t, dir, []string{unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh"}, "vol")
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	want := []string{`"vol/bind"`, `"vol/sub/secret"`, `"vol/tmp"`}
	if !slices.Equal(r.Stats.Mounts, want) || r.Stats.MountCount != 3 {
		t.Errorf("mounts %q (%d), want %q", r.Stats.Mounts, r.Stats.MountCount, want)
	}
	if got, want := r.Summary, `chown "vol": 3 of 3 changed, 3 mounts not entered`; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// Inside the namespace, after the walk: the mounts as they were.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, rootOwner+" ") {
			t.Errorf("in the namespace: %s, want %s", line, rootOwner)
		}
	}
	// Outside it: what was mounted, and what was under the mounts.
	for _, p := range []string{"other", "other/in", "other/in/g", "key", "vol/tmp", "vol/bind", "vol/sub/secret"} {
		wantOwner(t, dir+"/"+p, rootOwner)
	}
	for _, p := range []string{"vol", "vol/sub", "vol/f"} {
		wantOwner(t, dir+"/"+p, newOwner)
	}
}

// Swaps during the walk, for at least ten seconds (renameat2
// RENAME_EXCHANGE: both names always exist): in directories anyone can
// write to, a directory with a symbolic link to a directory outside, a
// plain file with a hard link to a file outside (in one directory and
// across two), and a directory holding such a link with one holding a
// plain file; in a directory only root can write to, only the directory
// and the symbolic link (the one swap that, done by root, the by-name path
// must still survive). Walks run
// over and over; after each, nothing outside may have a new owner.
func TestSwapRace(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol, out := dir+"/vol", dir+"/outside"
	mkdir(t, out+"/sub", 0o755)
	for i := range 5 {
		write(t, out+"/f"+strconv.Itoa(i), 0o600)
		write(t, out+"/sub/g"+strconv.Itoa(i), 0o600)
	}
	write(t, out+"/secret", 0o600)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"open", 0o777}, {"rootonly", 0o755}} {
		base := vol + "/" + d.name
		mkdir(t, base+"/d/e", 0o755)
		if err := os.Chmod(base, d.mode); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			write(t, base+"/d/f"+strconv.Itoa(i), 0o644)
			write(t, base+"/d/e/g"+strconv.Itoa(i), 0o644)
		}
		if err := os.Symlink(out, base+"/l"); err != nil {
			t.Fatal(err)
		}
	}
	write(t, vol+"/open/f", 0o644)
	link(t, out+"/secret", vol+"/open/h")
	// Across directories: a link to a file outside exchanged with a plain
	// file in another directory, and a directory holding such a link
	// exchanged with one elsewhere holding a plain file of the same name.
	write(t, out+"/secret2", 0o600)
	write(t, out+"/secret3", 0o600)
	mkdir(t, vol+"/open/m1", 0o777)
	mkdir(t, vol+"/open/m2", 0o777)
	link(t, out+"/secret2", vol+"/open/m1/k")
	write(t, vol+"/open/m2/k", 0o644)
	mkdir(t, vol+"/open/p1", 0o777)
	mkdir(t, vol+"/open/m2/p2", 0o777)
	link(t, out+"/secret3", vol+"/open/p1/s")
	write(t, vol+"/open/m2/p2/s", 0o644)

	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	swap := func(d, a, b string) {
		defer wg.Done()
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		for !stop.Load() {
			if err := unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}
	across := func(a, b string) {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}
	wg.Add(5)
	go swap(vol+"/open", "d", "l")
	go swap(vol+"/open", "f", "h")
	go swap(vol+"/rootonly", "d", "l")
	go across(vol+"/open/m1/k", vol+"/open/m2/k")
	go across(vol+"/open/p1", vol+"/open/m2/p2")

	outside := func() []string {
		var bad []string
		filepath.Walk(out, func(p string, _ os.FileInfo, err error) error {
			if err == nil && owner(t, p) != rootOwner {
				bad = append(bad, p+" "+owner(t, p))
			}
			return nil
		})
		return bad
	}
	walks, skipped := 0, uint64(0)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !t.Failed() {
		s, err := Fix(vol, New(newUID, newGID))
		if err != nil {
			t.Errorf("walk %d: %v", walks, err)
		}
		skipped += s.SkippedCount
		if bad := outside(); len(bad) > 0 {
			t.Errorf("walk %d changed outside: %q (%s %q)", walks, bad, s.Summary(), s.Skipped)
		}
		// Give it all back to root, so that the next walk has work.
		if _, err := Fix(vol, New(0, 0)); err != nil {
			t.Errorf("reset %d: %v", walks, err)
		}
		walks++
	}
	stop.Store(true)
	wg.Wait()
	if bad := outside(); len(bad) > 0 {
		t.Errorf("outside changed: %q", bad)
	}
	t.Logf("%d walks, %d swaps, %d entries skipped", walks, swaps.Load(), skipped)
	if walks < 10 || swaps.Load() < 1000 {
		t.Errorf("only %d walks and %d swaps: the race was not run", walks, swaps.Load())
	}
}

// A link seen twice under the same directory inode and name (a directory
// renamed during the walk, which leaves its files' ctime alone), seen with
// another ctime or link count (a link added, removed or renamed), seen in
// a directory that changed while it was read, or seen outside the reading
// of its directory spoils the count: the file is left alone and reported.
func TestLinkCountCannotBeFooled(t *testing.T) {
	root := scratch(t)
	w := &walker{root: root, links: map[uint64]*links{}}
	k := &worker{w: w}
	top := &node{}
	dir := func(name string) *node {
		mkdir(t, root+"/"+name, 0o755)
		fd, err := unix.Open(root+"/"+name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		var st unix.Statx_t
		if err := statxFd(fd, &st); err != nil {
			t.Fatal(err)
		}
		return &node{parent: top, name: name, ino: st.Ino, fd: fd, ctime: st.Ctime}
	}
	a, b := dir("a"), dir("b")
	// sight reads one link of a file (made up: the names do not exist, so
	// a completed count finds nothing to change) as readDir would.
	sight := func(d *node, name string, ino uint64, nlink uint32, ctime int64) {
		st := &unix.Statx_t{Ino: ino, Nlink: nlink, Ctime: unix.StatxTimestamp{Sec: ctime}}
		k.sight(d, append([]byte(name), 0), st, false)
		k.settle(d)
	}
	sight(a, "x", 1, 2, 5)
	if w.links[1] == nil {
		t.Error("first of two links completed the count")
	}
	sight(b, "y", 1, 2, 5)
	if w.links[1] != nil {
		t.Error("two distinct sightings of a 2-link file did not complete it")
	}
	// The same place twice.
	sight(a, "x", 2, 2, 5)
	sight(a, "x", 2, 2, 5)
	// A rename between the sightings changed the ctime.
	sight(a, "x", 3, 2, 5)
	sight(b, "y", 3, 2, 6)
	// A link count that changed.
	sight(a, "x", 4, 3, 5)
	sight(b, "y", 4, 2, 5)
	sight(b, "z", 4, 2, 5)
	// Its directory changed while it was read.
	k.sight(a, []byte("c\x00"), &unix.Statx_t{Ino: 6, Nlink: 2, Ctime: unix.StatxTimestamp{Sec: 5}}, false)
	write(t, root+"/a/new", 0o644)
	k.settle(a)
	sight(b, "c", 6, 2, 5)
	// Seen where no directory was being read.
	k.sight(b, []byte("d\x00"), &unix.Statx_t{Ino: 7, Nlink: 2, Ctime: unix.StatxTimestamp{Sec: 5}}, true)
	sight(a, "d", 7, 2, 5)
	// One outside (in b: a's ctime is stale now).
	sight(b, "o", 5, 2, 5)
	w.linksLeft()
	slices.Sort(w.stats.Skipped)
	want := []string{
		q(root+"/a/c") + ": hard links changed during the walk",
		q(root+"/a/x") + ": hard links changed during the walk",
		q(root+"/a/x") + ": hard links changed during the walk",
		q(root+"/a/x") + ": hard links changed during the walk",
		q(root+"/b/d") + ": hard links changed during the walk",
		q(root+"/b/o") + ": 2 hard links, 1 outside the tree",
	}
	if !slices.Equal(w.stats.Skipped, want) {
		t.Errorf("skipped %q, want %q", w.stats.Skipped, want)
	}
	if got := w.stats.Summary(); got != `chown "": 0 of 0 changed, 6 skipped (hard links outside, changed during the walk)` {
		t.Errorf("summary %q", got)
	}
}

// A parked directory that was moved before it is reopened is not entered
// by its old path, and is reported.
func TestReopenMovedDirectory(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/vol/a/b", 0o755)
	mkdir(t, dir+"/vol/z", 0o755)
	for _, c := range []struct {
		name string
		move func()
	}{
		{"renamed", func() {
			if err := os.Rename(dir+"/vol/a", dir+"/vol/z/a"); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced by a link", func() {
			if err := os.Rename(dir+"/vol/a", dir+"/vol/z/a"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("z/a", dir+"/vol/a"); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced by another directory", func() {
			if err := os.Rename(dir+"/vol/a", dir+"/vol/z/a"); err != nil {
				t.Fatal(err)
			}
			mkdir(t, dir+"/vol/a/b", 0o755)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(dir + "/vol")
			mkdir(t, dir+"/vol/a/b", 0o755)
			mkdir(t, dir+"/vol/z", 0o755)
			w := &walker{root: dir + "/vol", o: New(newUID, newGID)}
			fd, err := unix.Open(w.root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			w.rootFd = fd
			root := &node{fd: -1, ino: lstat(t, w.root).Ino}
			w.setMount(ptr(lstat(t, w.root)))
			a := &node{parent: root, name: "a", ino: lstat(t, dir+"/vol/a").Ino, fd: -1}
			b := &node{parent: a, name: "b", ino: lstat(t, dir+"/vol/a/b").Ino, fd: -1}
			if !w.reopen(b) {
				t.Fatal("reopen of an unmoved directory failed")
			}
			w.release(b)
			c.move()
			if w.reopen(b) {
				w.release(b)
				t.Fatal("reopened a moved directory by its old path")
			}
			if want := []string{q(dir+"/vol/a/b") + ": moved during the walk, not entered"}; !slices.Equal(w.stats.Skipped, want) {
				t.Errorf("skipped %q, want %q", w.stats.Skipped, want)
			}
			if w.held.Load() != 0 {
				t.Errorf("%d descriptors held", w.held.Load())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A directory moved out of the tree while the walk holds it (timed by
// inotify: right after the walk opens it) into a directory outside, which
// anyone can write and which holds root's files, then given a hard link to
// a file outside and a symbolic link to another: the walk goes on in the
// moved directory (its descriptor is what it walks), so what is in it may
// still be changed, but it never goes up to the directory it was moved
// into, the hard link's file and the link's target stay root's.
func TestDirectoryMovedOut(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	vol, out := dir+"/vol", dir+"/out"
	mkdir(t, out+"/pub", 0o777)
	write(t, out+"/pub/rootfile", 0o600)
	write(t, out+"/secret", 0o600)
	write(t, out+"/shared", 0o666)
	mkdir(t, vol+"/m", 0o777)
	for i := range 2000 {
		write(t, vol+"/m/f"+strconv.Itoa(i), 0o644)
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(in, vol, unix.IN_OPEN|unix.IN_ONLYDIR); err != nil {
		t.Fatal(err)
	}
	var moves atomic.Int64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(in, buf)
			if err != nil || n <= 0 || stop.Load() {
				return
			}
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
			if ev.Mask&unix.IN_ISDIR == 0 || ev.Len == 0 || !strings.HasPrefix(string(buf[unix.SizeofInotifyEvent:n]), "m\x00") {
				continue
			}
			if os.Rename(vol+"/m", out+"/pub/m") == nil {
				moves.Add(1)
				os.Link(out+"/shared", out+"/pub/m/hl")
				os.Symlink(out+"/secret", out+"/pub/m/sl")
				os.WriteFile(out+"/pub/m/late", nil, 0o644)
			}
		}
	}()
	outside := func() (bad []string) {
		for _, p := range []string{out, out + "/pub", out + "/pub/rootfile", out + "/secret", out + "/shared"} {
			if owner(t, p) != rootOwner {
				bad = append(bad, p+" "+owner(t, p))
			}
		}
		return bad
	}
	late := 0
	for i := range 20 {
		s, err := Fix(vol, New(newUID, newGID))
		if err != nil {
			t.Errorf("walk %d: %v", i, err)
		}
		if bad := outside(); len(bad) > 0 {
			t.Fatalf("walk %d changed %q (%s %q)", i, bad, s.Summary(), s.Skipped)
		}
		if st, err := os.Lstat(out + "/pub/m/late"); err == nil && st.Sys().(*syscall.Stat_t).Uid == newUID {
			late++
		}
		// Back as it was.
		os.Remove(out + "/pub/m/hl")
		os.Remove(out + "/pub/m/sl")
		os.Remove(out + "/pub/m/late")
		os.Rename(out+"/pub/m", vol+"/m")
		if _, err := Fix(vol, New(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	// Wake the reader: an open in the watched directory.
	mkdir(t, vol+"/wake", 0o755)
	if fd, err := unix.Open(vol+"/wake", unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		unix.Close(fd)
	}
	<-done
	unix.Close(in)
	t.Logf("20 walks, %d moves during them, %d walks changed a file made in the moved directory after the move", moves.Load(), late)
	if moves.Load() == 0 {
		t.Error("the directory was never moved during a walk")
	}
}
