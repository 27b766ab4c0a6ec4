package ownership

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// lowFdLimit lowers this process's descriptor limit for the rest of the
// test: a walk that held a descriptor per level or per sibling would fail
// with EMFILE.
func lowFdLimit(t *testing.T, n uint64) (restore func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	return func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) }
}

// chain makes depth nested directories "d" below dir, each with a file
// "f" and, when comb, a sibling directory "s" with a file "g": by
// descriptor, since the paths are far longer than PATH_MAX.
func chain(t *testing.T, dir string, depth int, comb bool) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		mkfile(t, fd, "f")
		if comb {
			if err := unix.Mkdirat(fd, "s", 0o755); err != nil {
				t.Fatal(err)
			}
			s, err := unix.Openat(fd, "s", unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatal(err)
			}
			mkfile(t, s, "g")
			unix.Close(s)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd = next
	}
	unix.Close(fd)
}

func mkfile(t *testing.T, dir int, name string) {
	t.Helper()
	f, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(f)
}

// countNotOwned goes down a tree made by chain, closing each level's
// descriptor before the next, and counts its entries and those that are not
// newUID:newGID.
func countNotOwned(t *testing.T, dir string) (entries, wrong int) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	check := func(fd int, name string) bool {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false
		}
		entries++
		if st.Uid != newUID || st.Gid != newGID {
			wrong++
		}
		return true
	}
	for check(fd, "d") {
		check(fd, "f")
		if check(fd, "s") {
			check(fd, "s/g")
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)
	return entries, wrong
}

// A 10,000-deep chain needs neither a descriptor nor a stack frame per
// level: it passes with 64 descriptors.
func TestDeepChain(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/vol", 0o755)
	chain(t, dir+"/vol", 10000, false)
	noLeaks(t)
	restore := lowFdLimit(t, 64)
	s, err := Fix(dir+"/vol", New(newUID, newGID))
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if s.Seen != 20001 || s.Changed != 20001 {
		t.Errorf("%s", s.Summary())
	}
	if n, wrong := countNotOwned(t, dir+"/vol"); n != 20000 || wrong != 0 {
		t.Errorf("%d entries, %d not given", n, wrong)
	}
}

// A deep comb (every level has a sibling directory still to walk) with a
// budget of 4 directory descriptors: the oldest waiting directories are
// closed and reopened later, from the root, one checked step at a time.
func TestDeepCombParks(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	mkdir(t, dir+"/vol", 0o755)
	chain(t, dir+"/vol", 300, true)
	noLeaks(t)
	for _, workers := range []int{1, 2, 4} {
		t.Run(strconv.Itoa(workers), func(t *testing.T) {
			o := New(newUID, newGID)
			o.Workers, o.dirBudget = workers, 4
			s, err := Fix(dir+"/vol", o)
			if err != nil {
				t.Fatal(err)
			}
			if s.Seen != 1201 || s.SkippedCount != 0 {
				t.Errorf("%s", s.Summary())
			}
			if s.reopens == 0 {
				t.Error("no directory was parked and reopened")
			}
			if n, wrong := countNotOwned(t, dir+"/vol"); n != 1200 || wrong != 0 {
				t.Errorf("%d entries, %d not given", n, wrong)
			}
			// Back to root for the next round.
			o = New(0, 0)
			if _, err := Fix(dir+"/vol", o); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A directory with 3,000 subdirectories opens them one at a time.
func TestWide(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	for i := range 3000 {
		mkdir(t, dir+"/vol/d"+strconv.Itoa(i), 0o755)
	}
	noLeaks(t)
	restore := lowFdLimit(t, 64)
	s, err := Fix(dir+"/vol", New(newUID, newGID))
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if s.Seen != 3001 || s.Changed != 3001 {
		t.Errorf("%s", s.Summary())
	}
}
