package useradd

import (
	"errors"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dbLock is lckpwdf(3)'s lock; fd is -1 when it could not be had.
type dbLock struct{ fd int }

// lockDB takes the lock shadow's tools (useradd, groupadd, passwd, chage,
// ...) take through lckpwdf(3) before they change an account file: a write
// lock on the whole of /etc/.pwd.lock, opened O_CREAT|O_WRONLY mode 0600.
// It is an open file description lock: it conflicts with lckpwdf's
// classic one, and unlike that one it also excludes another goroutine of
// this process, and closing some other descriptor of the file cannot drop
// it. lckpwdf waits 15 s (alarm(2)); a Go program cannot interrupt a
// blocked fcntl that way, so the lock is tried with a growing pause until
// the deadline.
//
// The lock file may not be creatable (OpenShift: /etc is not writable and
// the process is not root, or the file exists and is root's). That is not
// an error: the writer then only appends in place, under flock(2) of the
// file itself, which every writer here takes too, so gosu processes still
// exclude each other. A timeout is an error: someone is editing accounts.
func lockDB(path string, deadline time.Time, wait time.Duration) (dbLock, error) {
	// O_NOFOLLOW: a planted symlink must not make root create a file
	// elsewhere. O_NONBLOCK: a FIFO must not block the open.
	fd, err := openFile(path, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0o600)
	if err != nil {
		return dbLock{fd: -1}, nil
	}
	err = waitFor(deadline, func() error {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		if err == unix.EINVAL { // before Linux 3.15
			err = unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk)
		}
		return err
	})
	if err != nil {
		unix.Close(fd)
		if err == errTimeout {
			return dbLock{}, lockTimeout(path, wait)
		}
		return dbLock{fd: -1}, nil // e.g. ENOLCK: no lock, as above
	}
	return dbLock{fd: fd}, nil
}

func (l dbLock) release() {
	if l.fd >= 0 {
		unix.Close(l.fd)
	}
}

var errTimeout = errors.New("timed out")

// waitFor calls try until it does not report a lock held elsewhere
// (EAGAIN, EACCES), pausing 1 ms, then twice as long each time up to 50 ms;
// past deadline it gives errTimeout.
func waitFor(deadline time.Time, try func() error) error {
	pause := time.Millisecond
	for {
		err := try()
		if err != unix.EAGAIN && err != unix.EACCES && err != unix.EINTR {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		ts := unix.NsecToTimespec(int64(pause))
		unix.Nanosleep(&ts, nil) // not time.Sleep: its timer code is not in gosu otherwise
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// writer adds lines to account files.
type writer struct {
	locked   bool // holds lckpwdf's lock, so may replace files
	deadline time.Time
	wait     time.Duration // what deadline was set to, for the message
}

// decider looks at a file's content, under the file's lock, for the entry
// about to be added: present, or a conflict.
type decider func(path string, body []byte) (present bool, err error)

// add appends line to path unless decide finds it there, and reports
// whether path has the entry now. create allows making a missing file
// (passwd and group, not shadow).
func (w *writer) add(path, line string, create bool, decide decider) (bool, error) {
	for {
		fd, st, err := w.openLocked(path)
		if err == unix.ENOENT {
			if !create {
				return false, nil
			}
			if present, err := decide(path, nil); err != nil || present {
				return present, err
			}
			if !w.locked {
				return false, err
			}
			return true, replace(path, nil, nil, line+"\n")
		}
		if err != nil {
			return false, err
		}
		has, err := w.addLocked(path, fd, &st, line, decide)
		unix.Close(fd)
		if err != errStale {
			return has, err
		}
		if time.Now().After(w.deadline) {
			return false, lockTimeout(path, w.wait)
		}
	}
}

// addOptional adds a shadow or gshadow line for name, and reports whether
// the file has one now. Not being allowed to write it (a read-only bind
// mount Check could not tell from a writable file) skips it, as in Check.
func (w *writer) addOptional(path, name, line string) (bool, error) {
	has, err := w.add(path, line, false, func(p string, body []byte) (bool, error) {
		return findShadow(p, body, name)
	})
	if denied(err) {
		return false, nil
	}
	return has, err
}

// errStale means the file changed under a writer that does not take the
// locks (a shell's >>): read it again.
var errStale = errors.New("changed while locked")

func (w *writer) addLocked(path string, fd int, st *unix.Stat_t, line string, decide decider) (bool, error) {
	data, err := readAll(path, fd, st.Size)
	if err != nil {
		return false, err
	}
	body := untorn(data, line)
	if present, err := decide(path, body); err != nil || present {
		return present, err
	}
	more := suffix(data, body, line)
	if w.locked && plain(path) {
		err := replace(path, st, data, more)
		if !denied(err) && err != unix.EBUSY && err != unix.EXDEV {
			return err == nil, err
		}
		// EBUSY: path is a mount point (a bind-mounted file). Denied:
		// the directory is not writable, or the copy could not be given
		// the file's owner. Appending may still work.
	}
	return true, appendInPlace(path, st, data, more)
}

// suffix is what follows data to add line: the rest of a torn line, or a
// "\n" the file lacks and the line.
func suffix(data, body []byte, line string) string {
	if tail := data[len(body):]; len(tail) > 0 {
		return line[len(tail):] + "\n"
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return "\n" + line + "\n"
	}
	return line + "\n"
}

// openLocked opens path for reading and takes flock(2) of it. The file may
// have been replaced (renamed over) while this waited; then the lock is on
// a file nobody reads any more, and the new one is locked instead.
func (w *writer) openLocked(path string) (int, unix.Stat_t, error) {
	for {
		var st unix.Stat_t
		fd, err := openRegular(path, unix.O_RDONLY, 0)
		if err != nil {
			return -1, st, err
		}
		err = waitFor(w.deadline, func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
		if err == errTimeout {
			err = lockTimeout(path, w.wait)
		}
		if err == nil {
			err = unix.Fstat(fd, &st)
		}
		if err != nil {
			unix.Close(fd)
			return -1, st, err
		}
		var now unix.Stat_t
		if unix.Stat(path, &now) == nil && now.Dev == st.Dev && now.Ino == st.Ino {
			return fd, st, nil
		}
		unix.Close(fd)
	}
}

// plain reports whether path itself is a regular file: a symbolic link is
// written through (appended to), never replaced by a file.
func plain(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

// replace writes data and more to a new file in path's directory, gives it
// the old file's owner and mode (st; nil for a new file: 0644), makes it
// durable and renames it over path: readers, and a crash, see the old
// content or the new, never a part.
func replace(path string, st *unix.Stat_t, data []byte, more string) error {
	dir := dirOf(path)
	tmp, fd, err := createTemp(path)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		unix.Close(fd)
		if !renamed {
			unix.Unlink(tmp)
		}
	}()
	mode := uint32(0o644)
	if st != nil {
		if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		mode = st.Mode & 0o7777
	}
	if err := writeAll(fd, data); err != nil {
		return err
	}
	if err := writeAll(fd, []byte(more)); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if err := unix.Fsync(fd); err != nil {
		return err
	}
	if err := unix.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	// Make the rename itself durable. The entry is in place either way,
	// so a failure here (EINVAL on some file systems) is not reported.
	if dfd, err := openFile(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		unix.Fsync(dfd)
		unix.Close(dfd)
	}
	return nil
}

// createTemp creates path.gosu-tmp exclusively, mode 0600 until it is
// complete. The name is fixed, not random: only the holder of lckpwdf's
// lock replaces files, so one that exists is left by a writer that was
// killed while copying (a large file takes milliseconds to write and
// fsync), and it is removed here, by the next writer, instead of piling up
// in /etc. O_EXCL|O_NOFOLLOW after unlink: a planted file or symlink is
// removed, never written through.
func createTemp(path string) (string, int, error) {
	tmp := path + ".gosu-tmp"
	for range 2 {
		fd, err := openFile(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY, 0o600)
		if err != unix.EEXIST {
			return tmp, fd, err
		}
		if err := unix.Unlink(tmp); err != nil && err != unix.ENOENT {
			return "", -1, err
		}
	}
	return "", -1, unix.EEXIST
}

// appendInPlace adds more to the file st describes with one write(2) on a
// descriptor opened O_APPEND. The caller holds flock(2) of it; a size
// other than what was read means a writer that ignores the locks, and the
// whole decision is made again.
func appendInPlace(path string, st *unix.Stat_t, data []byte, more string) error {
	fd, err := openFile(path, unix.O_WRONLY|unix.O_APPEND|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino || now.Size != int64(len(data)) {
		return errStale
	}
	n, err := unix.Write(fd, []byte(more))
	if err == nil && n != len(more) {
		err = unix.EIO // a short write to a regular file: the disk is full
	}
	if err != nil {
		if n > 0 { // leave no part of a line behind
			unix.Ftruncate(fd, int64(len(data)))
		}
		return err
	}
	return unix.Fsync(fd)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// canAdd says why a line cannot be added to path, or nil. It asks the
// kernel (access(2); gosu refuses setuid installs, so real ids are the
// effective ones) rather than trying, so that Check changes nothing.
func canAdd(f Files, path string, db dbFile) error {
	err := replaceable(f, path, db)
	if err == nil || !db.exists {
		return err
	}
	return access(path, unix.W_OK)
}

// replaceable says why path cannot be replaced by a renamed copy, or nil.
func replaceable(f Files, path string, db dbFile) error {
	if db.exists {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return unix.EPERM // see plain
		}
		if mountRoot(path) {
			return unix.EBUSY
		}
		if euid := unix.Geteuid(); euid != 0 && int(st.Uid) != euid {
			return unix.EPERM // could not give the copy the file's owner
		}
	}
	if err := access(dirOf(path), unix.W_OK|unix.X_OK); err != nil {
		return err
	}
	err := access(f.Lock, unix.W_OK)
	if err == unix.ENOENT {
		err = access(dirOf(f.Lock), unix.W_OK|unix.X_OK)
	}
	return err
}

// mountRoot reports whether path is itself mounted on (docker run -v
// passwd:/etc/passwd): rename(2) over it fails with EBUSY.
func mountRoot(path string) bool {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, 0, &stx)
	return err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 &&
		stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// access is faccessat(2) without flags. unix.Faccessat would bring in an
// emulation of AT_EACCESS that is never needed: gosu refuses setuid
// installs, so its real ids are its effective ones.
func access(path string, mode uint32) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	atFDCWD := unix.AT_FDCWD // a variable: a negative constant cannot convert to uintptr
	if _, _, e := unix.Syscall(unix.SYS_FACCESSAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), uintptr(mode)); e != 0 {
		return e
	}
	return nil
}

func dirOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return path[:i]
}
