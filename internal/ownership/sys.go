package ownership

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The calls of the walk's inner loop, made raw in two ways:
//
//   - names are passed as pointers into the getdents buffer (NUL-terminated
//     there already), which saves an allocation and a copy per entry over
//     package unix's string arguments;
//   - they go through RawSyscall6, without telling the Go scheduler. These
//     calls take microseconds; through Syscall6, with every worker's P busy,
//     sysmon keeps taking Ps from workers caught in a call and starting
//     threads to run them: about 6,000 extra context switches per 200,000
//     entries and a quarter of the first run's time (bench/chown.sh). The
//     price: a call that blocks (a cold inode table read, a journal commit)
//     holds its P meanwhile, so more workers than GOMAXPROCS would not
//     overlap more I/O, and Fix does not start more.

// statxMask asks for what the decision needs; STATX_MNT_ID tells a bind
// mount of the same file system from the root's mount.
const statxMask = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_UID |
	unix.STATX_GID | unix.STATX_INO | unix.STATX_CTIME | unix.STATX_MNT_ID

// empty is the "" path of the *_EMPTY_PATH calls.
func empty() *byte { return unsafe.StringData("\x00") }

// statxAt looks at name in dir without following a symbolic link or
// triggering an automount.
func statxAt(dir int, name *byte, st *unix.Statx_t) error {
	_, _, e := unix.RawSyscall6(unix.SYS_STATX, uintptr(dir), uintptr(unsafe.Pointer(name)),
		unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, statxMask, uintptr(unsafe.Pointer(st)), 0)
	return errno(e)
}

// statxFd looks at what fd refers to.
func statxFd(fd int, st *unix.Statx_t) error {
	_, _, e := unix.RawSyscall6(unix.SYS_STATX, uintptr(fd), uintptr(unsafe.Pointer(empty())),
		unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT, statxMask, uintptr(unsafe.Pointer(st)), 0)
	return errno(e)
}

// openPath opens name in dir as a handle that is not followed if it is a
// symbolic link and does not open the file itself.
func openPath(dir int, name *byte) (int, error) {
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(name)),
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// openDirAt opens the directory name in dir for reading, failing (ELOOP or
// ENOTDIR) if name is a symbolic link or anything but a directory.
func openDirAt(dir int, name string) (int, error) {
	return unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
}

// chownFd changes what fd refers to (an O_PATH handle included: a symbolic
// link gets the new owner itself). -1 leaves an id as it is.
func chownFd(fd, uid, gid int) error {
	_, _, e := unix.RawSyscall6(unix.SYS_FCHOWNAT, uintptr(fd), uintptr(unsafe.Pointer(empty())),
		uintptr(uid), uintptr(gid), unix.AT_EMPTY_PATH, 0)
	return errno(e)
}

func errno(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// chownAt changes name in dir, a symbolic link itself rather than its
// target.
func chownAt(dir int, name *byte, uid, gid int) error {
	_, _, e := unix.RawSyscall6(unix.SYS_FCHOWNAT, uintptr(dir), uintptr(unsafe.Pointer(name)),
		uintptr(uid), uintptr(gid), unix.AT_SYMLINK_NOFOLLOW, 0)
	return errno(e)
}
