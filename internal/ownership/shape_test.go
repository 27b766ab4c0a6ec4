package ownership

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

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

// 500,000 entries in one directory, on a first run and on a restart: the
// entries stream through the getdents buffer, and the inner loop allocates
// nothing per entry. On a tmpfs in a private mount namespace, where making
// them takes seconds (ext4 took from 40 s to 3 minutes here).
func TestHugeDirectory(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	dir := scratch(t)
	mkdir(t, dir+"/vol", 0o777)
	needReexec(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o mode=0777 none vol && exec "$1" vol`, "sh", self)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=huge")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var runs []hugeRun
	if err := json.Unmarshal(out, &runs); err != nil || len(runs) != 2 {
		t.Fatalf("helper output %q: %v", out, err)
	}
	for i, r := range runs {
		changed := uint64(hugeEntries + 1)
		if i == 1 {
			changed = 0 // the restart
		}
		t.Logf("%s in %s, %d bytes allocated", r.Summary, r.Took, r.Alloc)
		if r.Err != "" || r.Seen != hugeEntries+1 || r.Changed != changed {
			t.Errorf("run %d: %q, %s", i, r.Err, r.Summary)
		}
		if r.Alloc > 1<<20 {
			t.Errorf("run %d: %d bytes allocated for %d entries", i, r.Alloc, hugeEntries)
		}
	}
}

const hugeEntries = 500000

type hugeRun struct {
	Summary, Err, Took string
	Seen, Changed      uint64
	Alloc              uint64
}

// hugeMain makes hugeEntries files in the directory args[0], walks it
// twice, and prints what each walk did and allocated.
func hugeMain(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		panic(err)
	}
	for i := range hugeEntries {
		if err := unix.Mknodat(fd, "f"+strconv.Itoa(i), unix.S_IFREG|0o644, 0); err != nil {
			panic(err)
		}
	}
	unix.Close(fd)
	var runs []hugeRun
	for range 2 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		s, err := Fix(path, New(newUID, newGID))
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		r := hugeRun{Summary: s.Summary(), Took: took.String(), Seen: s.Seen, Changed: s.Changed, Alloc: after.TotalAlloc - before.TotalAlloc}
		if err != nil {
			r.Err = err.Error()
		}
		runs = append(runs, r)
	}
	json.NewEncoder(os.Stdout).Encode(runs)
}

// ulimit -n 16 (soft and hard, so Go cannot raise it): a tree that makes
// the walk park directories still passes, in a process of its own.
func TestFewDescriptors(t *testing.T) {
	needRoot(t)
	dir := scratch(t)
	var tree func(fd, depth int)
	tree = func(fd, depth int) {
		mkfile(t, fd, "f")
		if depth == 0 {
			return
		}
		for _, d := range []string{"a", "b"} {
			if err := unix.Mkdirat(fd, d, 0o755); err != nil {
				t.Fatal(err)
			}
			sub, err := unix.Openat(fd, d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatal(err)
			}
			tree(sub, depth-1)
			unix.Close(sub)
		}
	}
	mkdir(t, dir+"/vol", 0o755)
	fd, err := unix.Open(dir+"/vol", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tree(fd, 10)
	unix.Close(fd)
	mkdir(t, dir+"/vol/c", 0o755)
	chain(t, dir+"/vol/c", 300, true)
	r, _ := runHelper(t, dir, []string{"sh", "-c", `ulimit -n 16 && exec "$1" "$2"`, "sh"}, "vol")
	if r.Err != "" || r.Stats.Seen != 2*2047+1+1200 || r.Stats.Changed != r.Stats.Seen || r.Stats.SkippedCount != 0 {
		t.Errorf("error %q, %s", r.Err, r.Summary)
	}
}
