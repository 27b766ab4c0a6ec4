// Package fds keeps inherited file descriptors from reaching the command.
package fds

import (
	"errors"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// CloseOnExec marks every descriptor above 2, except those in keep, to be
// closed when the process execs. Marking rather than closing leaves any
// descriptor the Go runtime itself uses working until the exec, and the
// exec closes them all at once. Each kept descriptor must be open.
func CloseOnExec(keep []int) error {
	for _, fd := range keep {
		if fd < 3 {
			return errors.New("fd " + strconv.Itoa(fd) + " is stdin, stdout or stderr, which are always kept")
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return errors.New("fd " + strconv.Itoa(fd) + " to keep is not open")
		}
	}
	if err := cloexecAbove2(); err != nil {
		return err
	}
	for _, fd := range keep {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return errs.Wrap("keeping fd "+strconv.Itoa(fd), err)
		}
	}
	return nil
}

// cloexecAbove2 marks every descriptor above 2: close_range(2) with
// CLOSE_RANGE_CLOEXEC (Linux 5.11) where it exists, else one fcntl for each
// descriptor listed in /proc/self/fd.
func cloexecAbove2() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil || !(errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)) {
		return err
	}
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errors.New("listing open descriptors: close_range is missing (Linux < 5.11) and /proc is not mounted")
	}
	defer unix.Close(dir)
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil {
			return errs.Wrap("listing open descriptors", err)
		}
		if n <= 0 {
			return nil
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd > 2 && fd != dir {
				unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
			}
		}
	}
}
