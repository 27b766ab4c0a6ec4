package useradd

import (
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/errs"
)

// maxFile bounds what is read of an account file: it is held whole, to be
// copied, and a 200,000-user passwd is about 10 MB.
const maxFile = 64 << 20

// Apply carries out p for uid and gid, deciding again under the locks, so
// that a concurrent gosu or useradd, or a second start, never adds an entry
// twice; with nothing to do it writes nothing, not even the lock file.
//
// The lock is the one shadow's tools take through lckpwdf(3): a write lock
// on the whole of the lock file, opened O_CREAT|O_WRONLY mode 0600 and not
// through a symlink. It is an open file description lock, which conflicts
// with lckpwdf's classic one and also excludes other goroutines. When the
// lock file cannot be had (OpenShift: /etc is not writable, or the file is
// root's), files are only appended to, in place, under flock(2) of each,
// which every gosu takes, so gosu processes still exclude each other.
func (f *Files) Apply(p Plan, uid, gid uint32) error {
	if p.Nothing() {
		return nil
	}
	mode := inPlace
	fd, err := unix.Open(f.Lock, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		defer unix.Close(fd)
		err = f.lock(fd, true)
		if err == ErrLocked {
			return errs.Wrap("cannot lock "+f.Lock, err)
		}
		if err == nil { // else (ENOLCK...) in place only, as above
			mode = replacing
		}
	}
	_, err = f.run(&Request{UID: uid, GID: gid, Name: p.Name, Group: p.Group, Home: p.Home, Shell: p.Shell}, mode)
	return err
}

// lock takes a write lock of fd, lckpwdf's kind (ofd) or flock(2), trying
// every 10 ms for f.LockWait: a Go program cannot interrupt a blocked fcntl
// with alarm(2) as lckpwdf does.
func (f *Files) lock(fd int, ofd bool) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	tries := f.LockWait / (10 * time.Millisecond)
	if f.LockWait == 0 {
		tries = 1500 // 15 s, as lckpwdf(3)
	}
	for ; ; tries-- {
		var err error
		if ofd {
			err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		} else {
			err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		}
		if err != unix.EAGAIN && err != unix.EACCES {
			return err
		}
		if tries <= 0 {
			return ErrLocked
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// step reads path whole and finds in it the entry of id or the shadow line
// of name (see find), which it returns with ok. Lacking one, with a line to
// add, it makes sure the file may be written and, unless checking, adds the
// line; ok then says the file has (or would have) it. A file that exists
// but cannot be read is an error, never empty (read as empty, it would lead
// to adding a uid it has, or a name someone else has), except shadow, which
// is skipped silently when it cannot be read or written: it serves PAM and
// pwck, and the account works without it. It is never created.
//
// Adding, the file is read and written under its flock(2); if it was
// renamed over meanwhile, the new one is locked instead. Replacing, a copy
// is renamed over the file. Where that fails (EBUSY: a bind-mounted file;
// denied: /etc is not writable, or the copy could not get the file's owner)
// and in place, the line is appended with one write(2) on an O_APPEND
// descriptor, a "\n" first if the file lacks its last one: a short line
// written so is not torn. A symlink is written through, not replaced.
func (f *Files) step(path string, kind int, id uint32, name, line string, mode int) ([]byte, bool, error) {
	var st, now unix.Stat_t
	var fd int
	var err error
	for {
		fd, err = open(path, unix.O_RDONLY, &st)
		if err == nil && mode != check {
			err = f.lock(fd, false)
			if err == nil && unix.Stat(path, &now) == nil && (now.Ino != st.Ino || now.Dev != st.Dev) {
				unix.Close(fd)
				continue
			}
		}
		break
	}
	defer unix.Close(fd)
	var b []byte
	if err == nil && st.Size <= maxFile {
		b = make([]byte, 0, st.Size+512) // room to see the end without growing
	}
	for err == nil {
		if len(b) > maxFile || st.Size > maxFile {
			err = unix.EFBIG
			break
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		var n int
		if n, err = unix.Read(fd, b[len(b):cap(b)]); n <= 0 {
			break
		}
		b = b[:len(b)+n]
	}
	if err != nil {
		if kind == shadow {
			return nil, false, nil
		}
		return nil, false, errs.Wrap("cannot read "+path, err)
	}
	if entry, err := find(path, b, kind, id, name); err != nil || entry != nil || line == "" {
		return entry, entry != nil, err
	}
	more := line + "\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		more = "\n" + more
	}
	err = access(path, unix.W_OK)
	if err == nil && mode != check {
		if mode == replacing && unix.Lstat(path, &now) == nil && now.Mode&unix.S_IFMT == unix.S_IFREG &&
			replace(path, &st, append(b, more...)) == nil {
			return nil, true, nil
		}
		var n int
		if fd, err = open(path, unix.O_WRONLY|unix.O_APPEND, &now); err == nil {
			defer unix.Close(fd)
			if n, err = unix.Write(fd, []byte(more)); err == nil && n != len(more) {
				err = unix.EIO // a short write to a regular file: the disk is full
			}
			if err != nil && n > 0 {
				unix.Ftruncate(fd, int64(len(b))) // leave no part of a line
			}
			if err == nil {
				err = unix.Fsync(fd)
			}
		}
	}
	if err != nil && kind != shadow {
		what := "uid "
		if kind == group {
			what = "gid "
		}
		return nil, false, errs.Wrap("cannot add "+what+utoa(id)+" to "+path, err)
	}
	return nil, err == nil, nil
}

// replace writes b to path.gosu-tmp, gives it st's owner and mode, makes
// it durable and renames it over path: readers, and a crash, see the old
// content or the new, never a part. The name is fixed: only the holder of
// lckpwdf's lock uses it, so one that exists was left by a writer killed
// while copying, and is removed; O_EXCL|O_NOFOLLOW after that: a planted
// file or symlink is never written through.
func replace(path string, st *unix.Stat_t, b []byte) error {
	tmp := path + ".gosu-tmp"
	unix.Unlink(tmp)
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	err = unix.Fchown(fd, int(st.Uid), int(st.Gid))
	for err == nil && len(b) > 0 {
		var n int
		if n, err = unix.Write(fd, b); err == nil {
			b = b[n:]
		}
	}
	if err == nil {
		err = unix.Fchmod(fd, st.Mode&0o7777)
	}
	if err == nil {
		err = unix.Fsync(fd)
	}
	unix.Close(fd)
	if err == nil {
		err = unix.Rename(tmp, path)
	}
	if err != nil {
		unix.Unlink(tmp)
		return err
	}
	// Make the rename durable; the entry is in place either way.
	if fd, err = unix.Open(path[:strings.LastIndexByte(path, '/')+1], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Fsync(fd)
		unix.Close(fd)
	}
	return nil
}

// makeHome creates home, owned by uid:gid with mode 0755 (Debian 12's
// useradd -m: login.defs sets no HOME_MODE, UMASK is 022), and its missing
// parents, the caller's, 0755; /etc/skel is not copied. It walks from /
// with *at calls: parents may be symlinks (/home -> /var/home), but what is
// made is opened O_NOFOLLOW before fchown and fchmod, so a symlink swapped
// in is never followed to give its target away. An existing home (made
// meanwhile) is left as it is.
func makeHome(home string, uid, gid uint32) error {
	dfd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for rest := home[1:]; err == nil; {
		name, more, parent := strings.Cut(rest, "/")
		rest = more
		fd := -1
		err = unix.Mkdirat(dfd, name, 0o700) // 0700 until it is uid's
		switch {
		case err == nil:
			fd, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil && !parent {
				err = unix.Fchown(fd, int(uid), int(gid))
			}
			if err == nil {
				err = unix.Fchmod(fd, 0o755)
			}
		case err == unix.EEXIST && parent:
			fd, err = unix.Openat(dfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		case err == unix.EEXIST:
			err = nil
		}
		unix.Close(dfd)
		dfd = fd
		if !parent {
			break
		}
	}
	unix.Close(dfd)
	return err
}

// open opens path, a regular file or a symlink to one, and fstats it into
// st. The type is checked before opening (opening a device runs its
// driver) and on the descriptor; O_NONBLOCK makes a FIFO swapped in fail at
// once instead of waiting for a writer.
func open(path string, flags int, st *unix.Stat_t) (int, error) {
	if err := unix.Stat(path, st); err != nil {
		return -1, err
	}
	fd, err := -1, account.ErrNotRegular
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		fd, err = unix.Open(path, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}
	if err == nil && (unix.Fstat(fd, st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG) {
		unix.Close(fd)
		fd, err = -1, account.ErrNotRegular
	}
	return fd, err
}

// access is faccessat(2) without flags (gosu refuses setuid installs, so
// its real ids are its effective ones): unix.Access would bring in an
// emulation of AT_EACCESS that is never needed.
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
