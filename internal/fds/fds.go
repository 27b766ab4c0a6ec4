// Package fds keeps inherited file descriptors from reaching the command,
// and lists the numbered entries of /proc directories for package
// supervise.
package fds

import (
	"errors"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// CloseOnExec marks every descriptor above 2, except those in keep, to be
// closed when the process execs. Marking rather than closing leaves any
// descriptor the Go runtime itself uses working until the exec, and the
// exec closes them all at once. Each kept descriptor must be open.
func CloseOnExec(keep []int) error {
	for _, fd := range keep {
		why := " is stdin, stdout or stderr, which are always kept"
		if fd > 2 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
				continue
			}
			why = " to keep is not open"
		}
		return errors.New("fd " + strconv.Itoa(fd) + why)
	}
	// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11) where it exists,
	// else one fcntl for each descriptor listed in /proc/self/fd.
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == syscall.ENOSYS || err == syscall.EINVAL {
		dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return errors.New("listing open descriptors: close_range is missing (Linux < 5.11) and /proc is not mounted")
		}
		open, err := List(dir)
		unix.Close(dir)
		if err != nil {
			return errs.Wrap("listing open descriptors", err)
		}
		for _, fd := range open {
			if fd > 2 && fd != dir {
				unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
			}
		}
	} else if err != nil {
		return err
	}
	for _, fd := range keep {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return errs.Wrap("keeping fd "+strconv.Itoa(fd), err)
		}
	}
	return nil
}

// List returns the entries of the open directory dir whose names are
// decimal numbers (descriptors in /proc/self/fd, threads in
// /proc/self/task), as numbers, read with getdents(2): os.ReadDir would
// link os.File.Stat and time's formatting.
func List(dir int) ([]int, error) {
	var nums []int
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.Getdents(dir, buf)
		if n <= 0 || err != nil {
			return nums, err
		}
		// struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2),
		// d_type (1), then the name, NUL-terminated.
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < 19 || reclen > len(b) {
				break
			}
			num, ok := 0, b[19] != 0
			for _, c := range b[19:reclen] {
				if c == 0 {
					break
				}
				if num = num*10 + int(c-'0'); c < '0' || c > '9' || num > 1<<30 {
					ok = false
					break
				}
			}
			if ok {
				nums = append(nums, num)
			}
			b = b[reclen:]
		}
	}
}
