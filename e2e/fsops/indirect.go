// The operations that reach files by other ways than the program's own
// open(2): io_uring, a program with no path, a namespace of its own.

package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uringOpen opens path with io_uring's IORING_OP_OPENAT: the open runs in
// the kernel on the ring's behalf (possibly in a worker thread), not in this
// thread's openat(2). The structures are the kernel's
// include/uapi/linux/io_uring.h.
func uringOpen(path string, flags, mode uint32) (int, error) {
	var params struct {
		sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
		resv                                                                   [3]uint32
		sqOff                                                                  struct {
			head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
			userAddr                                                        uint64
		}
		cqOff struct {
			head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
			userAddr                                                        uint64
		}
	}
	ring, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	if errno != 0 {
		return -1, errno
	}
	defer unix.Close(int(ring))
	const offSQRing, offCQRing, offSQEs = 0, 0x8000000, 0x10000000
	sq, err := unix.Mmap(int(ring), offSQRing, int(params.sqOff.array+params.sqEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return -1, err
	}
	defer unix.Munmap(sq)
	cq, err := unix.Mmap(int(ring), offCQRing, int(params.cqOff.cqes+params.cqEntries*16), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return -1, err
	}
	defer unix.Munmap(cq)
	sqes, err := unix.Mmap(int(ring), offSQEs, int(params.sqEntries*64), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return -1, err
	}
	defer unix.Munmap(sqes)
	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	const opOpenat = 18
	sqe := sqes[:64]
	clear(sqe)
	sqe[0] = opOpenat
	*(*int32)(unsafe.Pointer(&sqe[4])) = unix.AT_FDCWD
	*(*uint64)(unsafe.Pointer(&sqe[16])) = uint64(uintptr(unsafe.Pointer(name)))
	*(*uint32)(unsafe.Pointer(&sqe[24])) = mode
	*(*uint32)(unsafe.Pointer(&sqe[28])) = flags
	tail := (*uint32)(unsafe.Pointer(&sq[params.sqOff.tail]))
	*(*uint32)(unsafe.Pointer(&sq[params.sqOff.array+(*tail&*(*uint32)(unsafe.Pointer(&sq[params.sqOff.ringMask])))*4])) = 0
	atomic.AddUint32(tail, 1)
	const enterGetEvents = 1
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, ring, 1, 1, enterGetEvents, 0, 0); errno != 0 {
		return -1, errno
	}
	head := atomic.LoadUint32((*uint32)(unsafe.Pointer(&cq[params.cqOff.head])))
	mask := *(*uint32)(unsafe.Pointer(&cq[params.cqOff.ringMask]))
	res := *(*int32)(unsafe.Pointer(&cq[params.cqOff.cqes+(head&mask)*16+8]))
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&cq[params.cqOff.head])), head+1)
	if res < 0 {
		return -1, syscall.Errno(-res)
	}
	return int(res), nil
}

// memfdExec copies this program into a memfd and runs it from there, as
// "fsops read ARG", with the same stdout: a program that has no path.
func memfdExec(arg string) error {
	prog, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return err
	}
	mfd, err := unix.MemfdCreate("fsops", 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	for len(prog) > 0 {
		n, err := unix.Write(mfd, prog)
		if err != nil {
			return err
		}
		prog = prog[n:]
	}
	cmd := exec.Command("/proc/self/fd/"+strconv.Itoa(mfd), "read", arg)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// usernsMount runs "fsops mount DIR" in a new user namespace and mount
// namespace, where it holds CAP_SYS_ADMIN (as an ambient capability: no
// uid is mapped there, which a confined process could not write to
// /proc/PID/uid_map anyway).
func usernsMount(dir string) error {
	cmd := exec.Command("/proc/self/exe", "mount", dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN}}
	return cmd.Run()
}
