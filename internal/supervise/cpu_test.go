package supervise

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"gosu/internal/fds"
)

// TestPlaceLeavesForker: place binds the process's other threads to the CPU
// the forking thread runs on, never the forking thread itself, whose child
// must start with the caller's CPUs and the kernel's record of them as they
// were (cpu.go); with one CPU it binds nothing. The test's threads get its
// CPUs back afterwards.
func TestPlaceLeavesForker(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	listed := tasks(t)
	defer func() {
		for _, tid := range tasks(t) {
			unix.SchedSetaffinity(tid, &before)
		}
	}()
	var h handoff
	h.place()
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the forking thread was bound: %v CPUs, had %v", after.Count(), before.Count())
	}
	if before.Count() < 2 {
		if h.placed {
			t.Errorf("one CPU, and place bound threads to CPU %v", h.super)
		}
		return
	}
	if !h.placed {
		t.Fatalf("%d CPUs, and place bound nothing", before.Count())
	}
	var super []int
	for c := 0; c < 1024; c++ {
		if h.super[c/64]&(1<<(c%64)) != 0 {
			super = append(super, c)
		}
	}
	if len(super) != 1 || !before.IsSet(super[0]) {
		t.Fatalf("the supervisor's CPUs are %v, want one of the caller's", super)
	}
	self := unix.Gettid()
	for _, tid := range listed {
		var got unix.CPUSet
		if tid == self || unix.SchedGetaffinity(tid, &got) != nil { // gone since
			continue
		}
		if got.Count() != 1 || !got.IsSet(super[0]) {
			t.Errorf("thread %d has %d CPUs, want only CPU %d", tid, got.Count(), super[0])
		}
	}
}

// tasks lists the process's threads.
func tasks(t *testing.T) []int {
	t.Helper()
	dir, err := unix.Open("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	tids, err := fds.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tids
}
