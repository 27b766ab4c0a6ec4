package fds

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"gosu/internal/testenv"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"3", "10", "4294967296", "x", "7a", "007"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	got, err := List(fd)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	// "." and ".." and names with anything but digits are not numbers;
	// numbers beyond 2^30 are not descriptors or thread ids.
	if want := []int{3, 7, 10}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

// TestListProc: /proc/self/fd lists this process's descriptors.
func TestListProc(t *testing.T) {
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		testenv.Need(t, false, "needs /proc mounted: "+err.Error())
	}
	defer unix.Close(fd)
	got, err := List(fd)
	if err != nil || !slices.Contains(got, 0) || !slices.Contains(got, fd) {
		t.Errorf("List(/proc/self/fd) = %v, %v; want 0 and %d among them", got, err, fd)
	}
}

func TestCloseOnExec(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if err := CloseOnExec([]int{p[1]}); err != nil {
		t.Fatal(err)
	}
	flags := func(fd int) int {
		f, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if flags(p[0])&unix.FD_CLOEXEC == 0 || flags(p[1])&unix.FD_CLOEXEC != 0 {
		t.Errorf("after CloseOnExec(keep %d): fd %d flags %d, fd %d flags %d", p[1], p[0], flags(p[0]), p[1], flags(p[1]))
	}
	own, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(own)
	for keep, want := range map[int]string{1: "fd 1 is stdin, stdout or stderr, which are always kept", 1 << 20: "fd 1048576 to keep is not open",
		own: "fd " + strconv.Itoa(own) + " to keep was not inherited: it is one gosu opened itself"} {
		if err := CloseOnExec([]int{keep}); err == nil || err.Error() != want {
			t.Errorf("CloseOnExec(%d) = %v, want %q", keep, err, want)
		}
	}
}
