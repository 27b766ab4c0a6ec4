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
// child's exec moved it to the other CPU about as often as not
// (sched_exec's balancing, through the migration thread), and the
// supervisor then often shared a CPU with it, while the first image's
// threads that the supervisor's exec must end first waited, to die, for
// a CPU the child's start-up kept busy. So, on a machine with two CPUs or
// more:
//   - the thread that forks the child is bound to the CPU it runs on, so
//     that the child's exec stays there, and the child gets the caller's
//     CPUs back once it exists (the command runs where gosu was started to
//     run; it is gosu's unreaped child, held at the gate, so its PID is
//     still its own);
//   - every other thread of the first image is bound to another CPU the
//     caller allows, and so is the thread that execs the supervisor, whose
//     threads all start from it: os/signal's set-up, one round trip between
//     two threads per signal, then never waits for the other CPU.
//
// Measured (docs/performance.md): the command's gate opens about 0.5 ms
// sooner. With one CPU, or without getcpu, nothing is bound.

// cpuSet is the kernel's cpu_set_t for the first 1024 CPUs (glibc's size).
type cpuSet [1024 / 64]uint64

// setAffinity is sched_setaffinity for the thread tid (0: the calling one).
func setAffinity(tid int, s *cpuSet) syscall.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(*s), uintptr(unsafe.Pointer(s)))
	return errno
}

// place reads the caller's CPUs into h.caller, binds this thread, which is
// about to fork the child, to the CPU it runs on, and gosu's other threads
// to the next CPU of the caller's, the supervisor's, in h.super; h.placed
// unless it binds nothing (one CPU, or no getcpu).
func (h *handoff) place() {
	var cpu uint32
	if _, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); errno != 0 || cpu >= 1024 {
		return
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(h.caller), uintptr(unsafe.Pointer(&h.caller))); errno != 0 {
		return
	}
	for c := (cpu + 1) % 1024; c != cpu; c = (c + 1) % 1024 {
		if h.caller[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		var here cpuSet
		here[cpu/64] = 1 << (cpu % 64)
		if setAffinity(0, &here) != 0 {
			return
		}
		h.super[c/64] = 1 << (c % 64)
		h.placed = true
		// Threads the runtime starts from now on start from one of these
		// (this one, locked to its goroutine, has the runtime's template
		// thread start them), so they are bound there too.
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
		return
	}
}
