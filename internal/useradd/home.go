package useradd

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// checkHome decides whether a new entry's home is made (MakeHome), and,
// with make, makes it. It is made when nothing (not even a dangling
// symlink) is there and the nearest existing ancestor may be written. A
// caller that is not root and may not write there (OpenShift) goes on
// without a home; for root that is an error.
func (p *Plan) checkHome(make bool) error {
	p.MakeHome = false
	var st unix.Stat_t
	if p.Changes.Passwd == nil || unix.Lstat(p.Home, &st) == nil {
		return nil
	}
	dir := p.Home
	var err error
	for {
		dir = dir[:max(strings.LastIndexByte(dir, '/'), 1)]
		if err = access(dir, unix.W_OK|unix.X_OK); err != unix.ENOENT || dir == "/" {
			break
		}
	}
	p.MakeHome = err == nil
	if err == nil && make {
		err = makeHome(p.Home, p.UID, p.GID)
	}
	if err != nil && (p.MakeHome || unix.Geteuid() == 0) {
		return errs.Wrap("cannot create home directory "+p.Home+" in "+dir, err)
	}
	return nil
}

// makeHome creates home, owned by uid:gid with mode 0755 (Debian 12's
// useradd -m: login.defs sets no HOME_MODE, UMASK is 022), and its missing
// parents, gosu's, 0755; /etc/skel is not copied. Parents that exist may
// be symbolic links (/home -> /var/home), as for mkdir -p. An existing home
// (made meanwhile) is left as it is.
//
// The directory that gets the new one may be writable by others, who could
// rename a directory of theirs, or one of root's beside it, into place
// between a mkdir and the open that follows, and have gosu give it away
// (issue 12.15: 4 times in 60 tries). So nothing is made where others can
// reach it: a staging directory is made there (mode 0700), opened, and
// checked on its descriptor to be gosu's own and closed to everyone else,
// whatever was renamed to its name; the missing part of the path is built
// inside it, where nobody else can enter, its owners and modes set through
// descriptors there; then it is moved into place in one
// renameat2(RENAME_NOREPLACE): it appears complete or not at all, and never
// replaces what someone made meanwhile. A gosu killed in between leaves at
// most a staging directory named .gosu-home-*, gosu's, mode 0700. One that
// is moved away and removed under gosu (mkdir in it: ENOENT) is refused as
// replaced.
func makeHome(home string, uid, gid uint32) error {
	for tries := 0; ; tries++ {
		dfd, missing, err := nearest(home)
		if err == nil && missing != "" {
			err = build(dfd, missing, uid, gid)
		}
		unix.Close(dfd)
		if err != unix.EEXIST || tries == 3 {
			return err
		}
		// Made meanwhile by someone else: look again.
	}
}

// nearest opens the deepest directory of home that exists, and returns the
// path below it that does not, "" when home exists in any form.
func nearest(home string) (int, string, error) {
	dfd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for rest := home[1:]; err == nil; {
		name, more, parent := strings.Cut(rest, "/")
		var st unix.Stat_t
		if !parent {
			if err = unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == unix.ENOENT {
				return dfd, rest, nil
			}
			return dfd, "", err
		}
		fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			return dfd, rest, nil
		}
		unix.Close(dfd)
		if err != nil {
			return -1, "", err
		}
		dfd, rest = fd, more
	}
	return dfd, "", err
}

// build makes the directories of path (relative, from the first missing
// one) inside a private staging directory in dfd, then moves the first one
// into dfd.
func build(dfd int, path string, uid, gid uint32) error {
	stage := ".gosu-home-" + strconv.Itoa(unix.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := unix.Mkdirat(dfd, stage, 0o700); err != nil {
		return err
	}
	defer unix.Unlinkat(dfd, stage, unix.AT_REMOVEDIR) // only ever removes an empty directory
	// Anything but the directory just made, private, means that someone
	// who may write dfd moved it: refused, nothing is built.
	moved := errs.Explain("the staging directory "+stage+" was moved or replaced while it was made", ErrUnsafe)
	sfd, err := unix.Openat(dfd, stage, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return moved
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err = unix.Fstat(sfd, &st); err == nil && (int(st.Uid) != unix.Geteuid() || st.Mode&0o077 != 0) {
		return moved
	}
	if err == nil {
		err = unix.Fchmod(sfd, 0o700) // a umask of 0777 made it 0000
	}
	top, _, _ := strings.Cut(path, "/")
	fd, made := sfd, 0 // made: the length of path made so far
	for rest := path; err == nil && made < len(path); {
		name, more, _ := strings.Cut(rest, "/")
		if err = unix.Mkdirat(fd, name, 0o700); err == unix.ENOENT {
			err = moved // the staging directory was moved away and removed
		}
		if err != nil {
			break
		}
		made += len(name) + 1
		next, err2 := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if fd != sfd {
			unix.Close(fd)
		}
		if fd, err = next, err2; err != nil {
			fd = sfd
			break
		}
		if rest = more; rest == "" {
			err = unix.Fchown(fd, int(uid), int(gid))
		}
		if err == nil {
			err = unix.Fchmod(fd, 0o755)
		}
	}
	if fd != sfd {
		unix.Close(fd)
	}
	if err == nil {
		err = unix.Renameat2(sfd, top, dfd, top, unix.RENAME_NOREPLACE)
		if err == unix.EINVAL { // a file system without RENAME_NOREPLACE (NFS)
			var st unix.Stat_t
			if err = unix.Fstatat(dfd, top, &st, unix.AT_SYMLINK_NOFOLLOW); err == unix.ENOENT {
				err = unix.Renameat(sfd, top, dfd, top)
			} else if err == nil {
				err = unix.EEXIST
			}
		}
		if err == nil {
			return nil
		}
	}
	for made = min(made, len(path)+1) - 1; made > 0; { // what was made, deepest first
		unix.Unlinkat(sfd, path[:made], unix.AT_REMOVEDIR)
		made = max(strings.LastIndexByte(path[:made], '/'), 0)
	}
	return err
}
