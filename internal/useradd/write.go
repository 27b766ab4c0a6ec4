package useradd

import (
	"strconv"
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

// accountFile is one account file as read for a decision, and what writing
// it takes: its directory's descriptor, through which it is opened,
// replaced and appended to, so that a name swapped in the path between
// those steps cannot redirect them.
type accountFile struct {
	path   string
	data   []byte
	usable bool // read whole, and may be written (shadow is optional)

	dirPath string
	base    string
	dir     int // its directory, open O_RDONLY|O_DIRECTORY; -1
	fd      int // the file, open for reading (and flocked by Apply); -1
	st      unix.Stat_t
	dirSt   unix.Stat_t
	link    bool // the path itself is a symbolic link
}

func (c *contents) close() {
	if c == nil {
		return
	}
	for _, a := range c.files() {
		for _, fd := range [...]int{a.fd, a.dir} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		a.fd, a.dir = -1, -1
	}
}

func (c *contents) files() [3]*accountFile { return [3]*accountFile{&c.passwd, &c.group, &c.shadow} }

// read reads the three files whole. Passwd and group must be readable: a
// file that exists but cannot be read is an error, never empty (read as
// empty, it would lead to adding a uid it has, or a name someone else
// has). Shadow is optional: when it is missing, cannot be read or may not
// be written, it is not used (it serves PAM and pwck; the account works
// without it), and it is never created.
//
// With lock, each file is read under its flock(2), which every gosu takes
// that cannot have lckpwdf's lock, and re-opened if it was renamed over
// while gosu waited; the locks are held until close. They are taken in one
// order, so two gosu cannot wait for each other.
func (f *Files) read(lock bool) (*contents, error) {
	c := &contents{
		passwd: accountFile{path: f.Passwd, dir: -1, fd: -1},
		group:  accountFile{path: f.Group, dir: -1, fd: -1},
		shadow: accountFile{path: f.Shadow, dir: -1, fd: -1},
	}
	for _, a := range c.files() {
		err := f.readFile(a, lock)
		if err == nil && a == &c.shadow {
			err = faccessat(a.dir, a.base, unix.W_OK)
		}
		a.usable = err == nil
		if err != nil && a != &c.shadow {
			return c, errs.Wrap("cannot read "+a.path, err)
		}
	}
	return c, nil
}

// readFile opens a through its directory and reads it whole. Only a
// regular file is opened (a symbolic link to one is followed, for reading
// only): its type is checked before opening, since opening a device runs
// its driver, and again on the descriptor; O_NONBLOCK makes a FIFO swapped
// in fail at once instead of waiting for a writer.
func (f *Files) readFile(a *accountFile, lock bool) error {
	i := strings.LastIndexByte(a.path, '/')
	a.dirPath, a.base = a.path[:max(i, 1)], a.path[i+1:]
	if i < 0 {
		a.dirPath = "."
	}
	var err error
	if a.dir, err = unix.Open(a.dirPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return err
	}
	if err = unix.Fstat(a.dir, &a.dirSt); err != nil {
		return err
	}
	var lst, now unix.Stat_t
	for {
		if err = unix.Fstatat(a.dir, a.base, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		a.link = lst.Mode&unix.S_IFMT == unix.S_IFLNK
		if err = unix.Fstatat(a.dir, a.base, &a.st, 0); err != nil {
			return err
		}
		if a.st.Mode&unix.S_IFMT != unix.S_IFREG {
			return account.ErrNotRegular
		}
		if a.fd, err = unix.Openat(a.dir, a.base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		if err = unix.Fstat(a.fd, &a.st); err == nil && a.st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = account.ErrNotRegular
		}
		if err == nil && lock {
			err = f.lock(a.fd, false)
		}
		if err != nil || !lock || unix.Fstatat(a.dir, a.base, &now, 0) != nil || now.Ino == a.st.Ino && now.Dev == a.st.Dev {
			break
		}
		unix.Close(a.fd) // renamed over while gosu waited for the lock
		a.fd = -1
	}
	if err != nil {
		return err
	}
	if a.st.Size > maxFile {
		return unix.EFBIG
	}
	b := make([]byte, 0, a.st.Size+512) // room to see the end without growing
	for {
		if len(b) > maxFile {
			return unix.EFBIG
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(a.fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			a.data = b
			return nil
		}
		b = b[:len(b)+n]
	}
}

// writable checks, before anything is written, that every change of p can
// be made safely.
func (c *contents) writable(p *Plan) error {
	for _, i := range [...]int{1, 2, 0} { // in the order Apply writes them
		ch := [...]*Change{p.Changes.Passwd, p.Changes.Group, p.Changes.Shadow}[i]
		if ch == nil {
			continue
		}
		a := c.files()[i]
		if err := a.writable(ch.Old != ""); err != nil {
			return errs.Wrap("cannot "+p.verb(i, ch)+" "+a.path, err)
		}
	}
	return nil
}

// verb says what a change does, for messages: "add uid 1000 to".
func (p *Plan) verb(file int, ch *Change) string {
	id, what := p.UID, "uid "
	if file == 1 {
		id, what = p.GID, "gid "
	}
	switch {
	case file == 2:
		return "add " + errs.Quote(p.Name) + " to"
	case ch.Old != "":
		return "give " + errs.Quote(p.Name) + " " + what + strconv.FormatUint(uint64(id), 10) + " in"
	}
	return "add " + what + strconv.FormatUint(uint64(id), 10) + " to"
}

// writable checks that a may be written, and, to change a line (replace),
// replaced by rename(2).
//
// An account file is never written through a symbolic link, nor in a
// directory that others than root (and gosu's own uid) may write: they
// could put a link, or any file, in the file's place, and have gosu append
// to or replace what they choose (issue 12.16: a symlinked /etc/passwd in a
// user-writable directory let --add-user append to any file). The lock and
// temporary files live in the same directory, which the check covers.
//
// A line is changed only by replacing the whole file. Written in place,
// even at the same length, a reader could see it half changed, and a kill
// between two writes would leave it torn; so where rename cannot work (a
// bind-mounted file, a directory that cannot be written) it is refused.
func (a *accountFile) writable(replace bool) error {
	if a.link {
		return errs.Explain("it is a symbolic link, and account files are never written through one", ErrUnsafe)
	}
	if a.dirSt.Uid != 0 && int(a.dirSt.Uid) != unix.Geteuid() || a.dirSt.Mode&0o022 != 0 {
		return errs.Explain("its directory "+a.dirPath+" may be written by others than root (owner "+
			strconv.FormatUint(uint64(a.dirSt.Uid), 10)+", mode "+strconv.FormatUint(uint64(a.dirSt.Mode&0o7777), 8)+
			"), who could put a symbolic link or another file in its place", ErrUnsafe)
	}
	if err := faccessat(a.dir, a.base, unix.W_OK); err != nil {
		return err
	}
	if !replace {
		return nil
	}
	if err := faccessat(a.dir, ".", unix.W_OK); err != nil {
		return errs.Explain("its directory cannot be written ("+err.Error()+"), so it cannot be replaced by rename(2), "+
			"and a line changed in place could be read half written", err)
	}
	var file, dir unix.Statx_t
	if unix.Statx(a.dir, a.base, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &file) == nil &&
		unix.Statx(a.dir, ".", 0, unix.STATX_MNT_ID, &dir) == nil &&
		file.Mask&dir.Mask&unix.STATX_MNT_ID != 0 && file.Mnt_id != dir.Mnt_id {
		return errs.Explain("it is a mount point (a bind-mounted file), which rename(2) cannot replace, "+
			"and a line changed in place could be read half written: mount a directory on "+a.dirPath+" instead of the file, "+
			"or change the file where it comes from", ErrUnsafe)
	}
	return nil
}

// Apply carries out p, deciding again under the locks (a concurrent gosu or
// useradd, or a second start, may have written meanwhile), so that no
// entry is added twice; with nothing to do it writes nothing, not even the
// lock file. Order: group, shadow (before the name exists), home, passwd
// last, so that every prefix of the work is a state the next start accepts
// and completes.
//
// The lock is the one shadow's tools take through lckpwdf(3): a write lock
// on the whole of the lock file, opened O_CREAT|O_WRONLY mode 0600 and
// never through a symbolic link. It is an open file description lock,
// which conflicts with lckpwdf's classic one and also excludes other
// goroutines. When the lock file cannot be had (OpenShift: /etc is not
// writable, or the file is root's), nothing is replaced: new lines are
// appended in place under flock(2) of each file, which every such gosu
// takes, so they still exclude each other. Holding the lock file, gosu
// takes no flock: a reader may hold one (flock needs only read access),
// and waiting for it let any user fail the start.
func (f *Files) Apply(p *Plan) error {
	if p.Nothing() {
		return nil
	}
	replacing, unlock, err := f.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	// The files' own flocks serve only where lckpwdf's lock could not be
	// had: any user who may read a file may flock it, and would make every
	// start wait for it and fail.
	c, err := f.read(!replacing)
	defer c.close()
	if err != nil {
		return err
	}
	q := Plan{add: p.add, remap: p.remap}
	if err = q.decide(c); err == nil {
		err = c.writable(&q)
	}
	if err != nil {
		return err
	}
	write := func(a *accountFile, file int, ch *Change) error {
		if ch == nil {
			return nil
		}
		if err := a.write(ch, replacing); err != nil {
			return errs.Wrap("cannot "+q.verb(file, ch)+" "+a.path, err)
		}
		return nil
	}
	if err := write(&c.group, 1, q.Changes.Group); err != nil {
		return err
	}
	if err := write(&c.shadow, 2, q.Changes.Shadow); err != nil {
		return err
	}
	if q.add != nil {
		if err := q.checkHome(true); err != nil {
			return err
		}
	}
	return write(&c.passwd, 0, q.Changes.Passwd)
}

// lockFile takes lckpwdf's lock. replacing says it is held, so that files
// may be replaced; without it they are only appended to.
func (f *Files) lockFile() (replacing bool, unlock func(), err error) {
	// O_NOFOLLOW: a link is refused, never followed to create or lock its
	// target. (The lock file's directory is the account files', which
	// writable checks before anything is written.)
	fd, err := unix.Open(f.Lock, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	switch {
	case err == unix.ELOOP:
		return false, nil, f.lockLink()
	case err != nil:
		return false, func() {}, nil // in place only, as above
	}
	err = f.lock(fd, true)
	if err == ErrLocked {
		unix.Close(fd)
		return false, nil, errs.Wrap("cannot lock "+f.Lock, err)
	}
	return err == nil, func() { unix.Close(fd) }, nil // other errors (ENOLCK): in place only
}

// lockLink refuses a lock file that is a symbolic link: Check, before
// anything is done, and Apply.
func (f *Files) lockLink() error {
	return errs.Wrap("cannot lock "+f.Lock, errs.Explain("it is a symbolic link, which is never followed", ErrUnsafe))
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

// write makes ch in a. Holding lckpwdf's lock (replacing), the file is
// replaced by a copy; a new line is otherwise, or when that fails (EBUSY:
// a bind-mounted file; denied: the copy could not get the file's owner),
// appended in place with one write(2) on an O_APPEND descriptor, a "\n"
// first if the file lacks its last one: a line written so is not torn. A
// changed line is only ever written by replacing (see writable).
func (a *accountFile) write(ch *Change, replacing bool) error {
	b := edited(a.data, ch)
	if replacing {
		err := a.replace(b)
		if err == nil || ch.Old != "" {
			return err
		}
	} else if ch.Old != "" {
		return errs.Explain("the lock file could not be had, and a line is changed only by replacing the file under it", ErrUnsafe)
	}
	more := b[len(a.data):]
	fd, err := unix.Openat(a.dir, a.base, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Ino != a.st.Ino || st.Dev != a.st.Dev || st.Size != int64(len(a.data)) {
		// Replaced or written by a writer that takes no lock (a shell's
		// >>) since it was read: what was decided may no longer hold.
		return errs.Explain("it changed while gosu read it; start again", unix.EAGAIN)
	}
	n, err := unix.Write(fd, more)
	if err == nil && n != len(more) {
		err = unix.ENOSPC // a short write to a regular file: the disk is full
	}
	if err != nil && n > 0 {
		unix.Ftruncate(fd, st.Size) // leave no part of a line
	}
	if err == nil {
		err = unix.Fsync(fd)
	}
	return err
}

// edited is data with ch made: the old line's bytes replaced (its line
// ending kept), or the new line added after a "\n" that data lacks.
func edited(data []byte, ch *Change) []byte {
	if ch.Old != "" {
		return append(append(append([]byte(nil), data[:ch.off]...), ch.Line...), data[ch.off+len(ch.Old):]...)
	}
	b := append([]byte(nil), data...)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(append(b, ch.Line...), '\n')
}

// replace writes b to a temporary file beside a, gives it a's owner and
// mode, makes it durable and renames it over a: readers, and a crash, see
// the old content or the new, never a part. The name is fixed: only the
// holder of lckpwdf's lock uses it, so one that exists was left by a
// writer killed while copying, and is removed; O_EXCL|O_NOFOLLOW after
// that, so a planted file or link is never written through.
func (a *accountFile) replace(b []byte) error {
	tmp := a.base + ".gosu-tmp"
	unix.Unlinkat(a.dir, tmp, 0)
	fd, err := unix.Openat(a.dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	err = unix.Fchown(fd, int(a.st.Uid), int(a.st.Gid))
	for err == nil && len(b) > 0 {
		var n int
		if n, err = unix.Write(fd, b); err == nil {
			b = b[n:]
		}
	}
	if err == nil {
		err = unix.Fchmod(fd, a.st.Mode&0o7777)
	}
	if err == nil {
		err = unix.Fsync(fd)
	}
	unix.Close(fd)
	if err == nil {
		err = unix.Renameat(a.dir, tmp, a.dir, a.base)
	}
	if err != nil {
		unix.Unlinkat(a.dir, tmp, 0)
		return err
	}
	unix.Fsync(a.dir) // makes the rename durable; the file is in place either way
	return nil
}

// faccessat is faccessat(2) without flags (gosu refuses setuid installs, so
// its real ids are its effective ones): unix.Faccessat would bring in an
// emulation of AT_EACCESS that is never needed.
func faccessat(dir int, path string, mode uint32) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_FACCESSAT, uintptr(dir), uintptr(unsafe.Pointer(p)), uintptr(mode)); e != 0 {
		return e
	}
	return nil
}

func access(path string, mode uint32) error {
	return faccessat(unix.AT_FDCWD, path, mode)
}
