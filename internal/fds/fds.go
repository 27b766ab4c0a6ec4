// Package fds keeps inherited file descriptors from reaching the command,
// and lists the numbered entries of /proc directories for package
// supervise.
package fds

import (
	"errors"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/dirent"
	"gosu/internal/errs"
)

// CheckKeep checks the descriptors to keep: each must be above 2, open and
// inherited. One that gosu or Go's runtime opened (close-on-exec, as they
// open everything; Go 1.27 keeps the cgroup's CPU quota files open, and
// Landlock's rules are gosu's) is never handed to the command, whatever its
// number.
func CheckKeep(keep []int) error {
	for _, fd := range keep {
		why := " is stdin, stdout or stderr, which are always kept"
		if fd > 2 {
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			switch {
			case err != nil:
				why = " to keep is not open"
			case flags&unix.FD_CLOEXEC != 0:
				why = " to keep was not inherited: it is one gosu opened itself"
			default:
				continue
			}
		}
		return errors.New("fd " + strconv.Itoa(fd) + why)
	}
	return nil
}

// CloseOnExec marks every descriptor above 2, except those in keep, to be
// closed when the process execs. Marking rather than closing leaves any
// descriptor the Go runtime itself uses working until the exec, and the
// exec closes them all at once. keep must pass CheckKeep.
func CloseOnExec(keep []int) error {
	if err := CheckKeep(keep); err != nil {
		return err
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
		r := dirent.Records(buf[:n])
		for name, _, ok := r.Next(); ok; name, _, ok = r.Next() {
			if num, ok := number(name[:len(name)-1]); ok {
				nums = append(nums, num)
			}
		}
	}
}

// number reads a name made only of decimal digits, at most 2^30 (the
// kernel's bound on descriptors, fs.nr_open), without overflowing a 32-bit
// int on the way.
func number(name []byte) (int, bool) {
	num := 0
	for _, c := range name {
		if c < '0' || c > '9' || num > (1<<30)/10 {
			return 0, false
		}
		num = num*10 + int(c-'0')
	}
	return num, len(name) > 0 && num <= 1<<30
}
