// Package resolve opens a path that gosu, as root, acts on (--chown=PATH,
// the /PATH user spec), without following a symbolic link that someone
// other than root could have planted in any of its components.
//
// open(2) follows a symbolic link in every component but, with O_NOFOLLOW,
// the last: with a volume /v owned by a user, `ln -s /srv/www /v/www` made
// `--chown=/v/www/html` give away /srv/www/html, and a link at the /PATH of
// the user spec chose whom gosu runs the command as. Open instead walks the
// path one component at a time, each opened relative to the descriptor of
// the directory before it with O_PATH|O_NOFOLLOW and looked at through its
// own descriptor: a symbolic link is seen as a link, never followed by the
// kernel, and a component renamed or replaced after it was passed changes
// nothing, since the walk holds the directory, not its name. The caller gets
// a descriptor and never uses the path string again.
//
// The same walk serves every kernel (openat2's RESOLVE_NO_SYMLINKS, Linux
// 5.6, would need this one as a fallback anyway, and could not follow the
// links that followRoot, gosu's --follow-root-symlinks, trusts).
package resolve

import (
	"path"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// maxLinks bounds the symbolic links followed for one path, as the kernel's
// MAXSYMLINKS (40) does.
const maxLinks = 40

// Open returns an O_PATH descriptor (close-on-exec) of what name names,
// never a symbolic link.
//
// name is cleaned first, by name (path.Clean: "//", "." and "dir/.." go; a
// trailing "/" still asks for a directory), so that a ".." can never climb
// out of where a link led; what is left of ".." leads a relative name,
// which starts at the working directory, and climbs only out of a
// directory that no user can have moved (see walk). Mount points on
// the way are crossed: only root can mount.
//
// A symbolic link in any component, the last included, is an error that
// names it (wrapping ELOOP), unless followRoot is given and the link is one
// that only root could have made: owned by root, in a directory that it and
// every directory above it, from /, are owned by root and writable by no
// one else (a POSIX ACL's mask shows in the group bits, so no ACL grants it
// either), such as /var/run -> /run. No user can create, rename or replace
// an entry there. Such a link is read as text and its target walked in the
// same way: the kernel never jumps through one. A link on a proc file
// system is never followed (see walk). A relative name follows no link.
func Open(name string, followRoot bool) (int, error) {
	return open("/", name, followRoot)
}

// open is Open with the directory root standing for "/" (tests).
func open(root, name string, followRoot bool) (int, error) {
	if name == "" {
		return -1, unix.ENOENT
	}
	p := path.Clean(name)
	for links := 0; ; links++ {
		fd, next, err := walk(root, p, followRoot)
		if next == "" || err != nil {
			// A trailing "/" asks for a directory, as it does of open(2).
			var st unix.Stat_t
			if err == nil && strings.HasSuffix(name, "/") && (stat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR) {
				unix.Close(fd)
				return -1, unix.ENOTDIR
			}
			return fd, err
		}
		if links == maxLinks {
			return -1, unix.ELOOP
		}
		p = next
	}
}

// walk opens the cleaned path p, or stops at the first symbolic link it may
// follow and returns the path to go on with: the link's target in place of
// the link.
func walk(root, p string, followRoot bool) (fd int, next string, err error) {
	start := "."
	if p[0] == '/' {
		start = root
	}
	cur, err := unix.Open(start, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	var st unix.Stat_t
	// here: only root can change the directory cur is; rootOnly: nor any
	// passed so far, from / (a relative name starts untrusted).
	here := stat(cur, &st) == nil && onlyRoot(&st)
	rootOnly := start == root && here
	// Cleaned, p is "/" or ".", or has no "/" at its start but one.
	rest := p
	switch {
	case p == "/" || p == ".":
		return cur, "", nil
	case start == root:
		rest = p[1:]
	}
	for rest != "" {
		comp, tail, _ := strings.Cut(rest, "/")
		fd, err := unix.Openat(cur, comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			if err = stat(fd, &st); err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			unix.Close(cur)
			return -1, "", err
		}
		at := p[:len(p)-len(rest)+len(comp)] // the path up to comp
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			// A ".." (cleaning leaves it only at the start of a relative
			// name) climbs out of a directory that may have been moved
			// since the name was given: the working directory of a
			// program started in a volume, moved by the volume's owner to
			// just below the volume's mount point, made "../.." the
			// directory that mount point is in. Moving a directory to
			// another parent needs write permission on it and on both
			// parents, so one only root can change, or one in a directory
			// only root can change, is where root left it.
			if comp == ".." && !onlyRoot(&st) && !here {
				unix.Close(fd)
				unix.Close(cur)
				return -1, "", errs.Explain(errs.Quote(at)+" climbs out of a directory a user could have moved: give the path from /", unix.EPERM)
			}
			unix.Close(cur)
			here = onlyRoot(&st)
			cur, rootOnly = fd, rootOnly && here
			rest = tail
			continue
		case unix.S_IFLNK:
			why := ") that a user other than root could have made or replaced, which is not followed: give the path without it"
			// No link on a proc file system is followed: there the owner
			// of /proc/PID and of its links is the process's effective uid
			// (root for a setuid-root program a user started), not who
			// made them, and a magic link (cwd, root, exe, fd/N) leads
			// wherever that process chose: a user could point
			// /proc/PID/cwd of such a program at /etc by starting it
			// there. (Raw and here: unix.Fstatfs, or a function of its
			// own, would put gosu over its size budget.)
			var fs unix.Statfs_t
			_, _, e := unix.RawSyscall(unix.SYS_FSTATFS, uintptr(fd), uintptr(unsafe.Pointer(&fs)), 0)
			switch {
			case e != 0 || fs.Type == unix.PROC_SUPER_MAGIC:
				why = "), a /proc link that a process chose, which is not followed: give the path it leads to"
			case !rootOnly || st.Uid != 0:
			case followRoot:
				why = ""
			default:
				why = "), which is not followed: give the path it leads to, or --follow-root-symlinks (only root can have made this one)"
			}
			target, err := readlink(fd)
			unix.Close(fd)
			unix.Close(cur)
			switch {
			case err != nil:
				return -1, "", errs.Wrap("reading the symbolic link "+errs.Quote(at), err)
			case why != "":
				return -1, "", errs.Explain(errs.Quote(at)+" is a symbolic link (to "+errs.Quote(target)+why, unix.ELOOP)
			}
			if !strings.HasPrefix(target, "/") {
				target = p[:len(p)-len(rest)] + target
			}
			return -1, path.Clean(target + "/" + tail), nil
		}
		if tail != "" {
			unix.Close(fd)
			unix.Close(cur)
			return -1, "", unix.ENOTDIR
		}
		unix.Close(cur)
		return fd, "", nil
	}
	return cur, "", nil
}

// onlyRoot reports whether only root can add, remove or rename entries of
// the directory st describes.
func onlyRoot(st *unix.Stat_t) bool {
	return st.Uid == 0 && st.Mode&0o022 == 0
}

// stat looks at what fd (O_PATH) is itself: a symbolic link included.
func stat(fd int, st *unix.Stat_t) error {
	return unix.Fstat(fd, st)
}

// readlink reads the target of the symbolic link open at fd (O_PATH).
func readlink(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
