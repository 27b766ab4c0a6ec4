package useradd

import (
	"strings"

	"golang.org/x/sys/unix"
)

// homeMissing reports whether home must be made, and if it could not be,
// why: the nearest existing ancestor must be a directory this process may
// write. Anything at home itself, even a dangling symlink, is left alone.
func homeMissing(home string) (bool, error) {
	var st unix.Stat_t
	err := unix.Lstat(home, &st)
	if err == nil {
		return false, nil
	}
	if err != unix.ENOENT {
		return false, &pathError{home, err}
	}
	for dir := dirOf(home); ; dir = dirOf(dir) {
		err := unix.Stat(dir, &st)
		switch {
		case err == unix.ENOENT && dir != "/":
			continue
		case err != nil:
			return true, &pathError{dir, err}
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return true, &pathError{dir, unix.ENOTDIR}
		}
		if err := access(dir, unix.W_OK|unix.X_OK); err != nil {
			return true, &pathError{dir, err}
		}
		return true, nil
	}
}

// makeHome creates home, owned by uid:gid with mode 0755, and its missing
// parents, root's (the caller's) with mode 0755, as useradd -m does; but
// /etc/skel is not copied. It walks from / with *at calls: the parents may
// be symlinks (/home -> /var/home), but the home itself is made with
// mkdirat and opened O_NOFOLLOW before fchown and fchmod, so a symlink
// swapped in for it is never followed to give its target away. An
// existing home (one made meanwhile) is left as it is.
func makeHome(home string, uid, gid uint32) error {
	parts := strings.Split(strings.TrimPrefix(home, "/"), "/")
	last := parts[len(parts)-1]
	if last == "" {
		return nil // "/"
	}
	dfd, err := openFile("/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return &pathError{"/", err}
	}
	dir := ""
	for _, part := range parts[:len(parts)-1] {
		dir += "/" + part
		next, err := parentDir(dfd, part)
		unix.Close(dfd)
		if err != nil {
			return &pathError{dir, err}
		}
		dfd = next
	}
	defer unix.Close(dfd)
	// 0700 until it is uid's: no one else may use it in between.
	if err := unix.Mkdirat(dfd, last, 0o700); err != nil {
		if err == unix.EEXIST {
			return nil
		}
		return &pathError{dirOf(home), err}
	}
	fd, err := unix.Openat(dfd, last, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &pathError{home, err}
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, int(uid), int(gid)); err != nil {
		// Not root (OpenShift adds itself): made by uid already is fine.
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Uid != uid || st.Gid != gid {
			return &pathError{home, err}
		}
	}
	if err := unix.Fchmod(fd, homeMode); err != nil {
		return &pathError{home, err}
	}
	return nil
}

// parentDir opens name in dfd, following a symlink, and makes it first
// (mode 0755, whatever the umask) when it is missing.
func parentDir(dfd int, name string) (int, error) {
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != unix.ENOENT {
		return fd, err
	}
	if err := unix.Mkdirat(dfd, name, 0o755); err != nil {
		if err != unix.EEXIST {
			return -1, err
		}
		return unix.Openat(dfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	fd, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Fchmod(fd, 0o755); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
