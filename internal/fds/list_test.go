package fds

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// More entries than one getdents buffer holds, and the edges of a number:
// 2^30 - 1 and 2^30 are kept, anything longer is not, also where it would
// overflow a 32-bit int (GOARCH=386, arm).
func TestListBuffers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"0", "7", "42", "007", "1073741823", "1073741824", "1073741825", "10737418230", "4294967303", "x", "1x", "-1", " 1", "+1"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 { // more than one getdents buffer
		if err := os.Mkdir(dir+"/"+strconv.Itoa(100000+i), 0o755); err != nil {
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
	want := []int{0, 7, 7, 42}
	for i := range 1000 {
		want = append(want, 100000+i)
	}
	want = append(want, 1073741823, 1073741824)
	if !slices.Equal(got, want) {
		t.Errorf("List: %d numbers %v..., want %d", len(got), got[:min(len(got), 6)], len(want))
	}
}
