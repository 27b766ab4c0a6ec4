package supervise

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/fds"
)

// Where the two start-ups run. Run starts the child (a fresh gosu) and then
// execs the supervisor's image, and the command waits at the gate until the
// supervisor catches every signal: both images start at once, and the
// supervisor's start-up is the longer path. Left to the scheduler, the
// supervisor often shared a CPU with the child, while the first image's
// threads that the supervisor's exec must end first waited, to die, for a
// CPU the child's start-up kept busy. So, on a machine with two CPUs or
// more, every thread of the first image but the one that forks is bound to
// the CPU that one runs on, and so is that one before it execs the
// supervisor, whose threads all start from it: os/signal's set-up, one
// round trip between two threads per signal, then never waits for another
// CPU. The child is left to the scheduler.
//
// The child is forked unbound, from the thread that was never bound: it
// starts with the caller's CPUs and nothing else. Binding it and giving it
// the caller's CPUs back would not do: since Linux 6.2 sched_setaffinity
// also records the mask it was asked for (the task's user_cpus_ptr, which
// fork copies and exec keeps), and the kernel confines every later change
// of the task's cpuset to it (docker update --cpuset-cpus, Kubernetes' CPU
// manager resizing its shared pool, a CPU brought back online), so the
// command and all it starts would keep the CPUs the caller had when gosu
// started (seen on 6.12: a cpuset grown from 0-1 to 0-3 left the command on
// 0-1), and the caller's own record, or its absence, cannot be read back.
//
// Measured (docs/performance.md): as fast as binding the child too, and
// 0.7-1.1 ms faster than binding the supervisor alone. With one CPU, or
// without getcpu, nothing is bound.

// cpuSet is the kernel's cpu_set_t for the first 1024 CPUs (glibc's size).
type cpuSet [1024 / 64]uint64

// setAffinity is sched_setaffinity for the thread tid (0: the calling one).
func setAffinity(tid int, s *cpuSet) syscall.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(*s), uintptr(unsafe.Pointer(s)))
	return errno
}

// place binds gosu's threads but this one, which is about to fork the child,
// to the CPU this one runs on, and records that CPU, the supervisor's, in
// h.super; h.placed unless it binds nothing (one CPU, or no getcpu).
func (h *handoff) place() {
	var cpu uint32
	if _, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); errno != 0 || cpu >= 1024 {
		return
	}
	var caller cpuSet
	if _, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(caller), uintptr(unsafe.Pointer(&caller))); errno != 0 {
		return
	}
	if caller[cpu/64] &^= 1 << (cpu % 64); caller == (cpuSet{}) {
		return // the caller's only CPU
	}
	h.super[cpu/64] = 1 << (cpu % 64)
	h.placed = true
	// Threads the runtime starts from now on are started by one of these
	// (this one, locked to its goroutine, has the runtime's template thread
	// start them), so they are bound there too.
	if dir, err := unix.Open("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		tids, _ := fds.List(dir)
		unix.Close(dir)
		self := unix.Gettid()
		for _, tid := range tids {
			if tid != self {
				setAffinity(tid, &h.super)
			}
		}
	}
}
