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
// directory that no user can have moved (see curOnlyRoot). Mount points on
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
// system is never followed (see onProc). A relative name follows no link.
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
	// rootOnly: every directory passed so far is one only root can change,
	// from / (a relative name starts untrusted).
	rootOnly := start == root && stat(cur, &st) == nil && onlyRoot(&st)
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
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if comp == ".." && !onlyRoot(&st) && !curOnlyRoot(cur) {
				unix.Close(fd)
				unix.Close(cur)
				from := strings.TrimSuffix(p[:len(p)-len(rest)], "/")
				if from == "" {
					from = "."
				}
				return -1, "", errs.Explain(errs.Quote(p[:len(p)-len(rest)]+comp)+" climbs out of "+errs.Quote(from)+
					", which a user other than root could have moved (neither it nor the directory above it is root's alone), and so chosen where it leads: give the path from /", unix.EPERM)
			}
			unix.Close(cur)
			cur, rootOnly = fd, rootOnly && onlyRoot(&st)
			rest = tail
			continue
		case unix.S_IFLNK:
			at := p[:len(p)-len(rest)] + comp
			proc := onProc(fd)
			trusted := rootOnly && st.Uid == 0 && !proc
			target, err := readlink(fd)
			unix.Close(fd)
			unix.Close(cur)
			switch {
			case err != nil:
				return -1, "", errs.Wrap("reading the symbolic link "+errs.Quote(at), err)
			case proc:
				return -1, "", errs.Explain(errs.Quote(at)+" is a symbolic link in /proc (to "+errs.Quote(target)+
					"), which is not followed: its owner there is a process's, and a process chooses where it leads (its working directory, its root, the files it opened): give the path it leads to", unix.ELOOP)
			case !trusted:
				return -1, "", errs.Explain(errs.Quote(at)+" is a symbolic link (to "+errs.Quote(target)+
					") that a user other than root could have made or replaced, which is not followed: give the path without it", unix.ELOOP)
			case !followRoot:
				return -1, "", errs.Explain(errs.Quote(at)+" is a symbolic link (to "+errs.Quote(target)+
					"), which is not followed: give the path it leads to, or --follow-root-symlinks (only root can have made this one)", unix.ELOOP)
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

// onProc reports whether the link open at fd (O_PATH) is on a proc file
// system, or cannot tell. There the owner of /proc/PID and of its links is
// the process's effective uid (root for a setuid-root program a user
// started), not who made them, and the text of a magic link (cwd, root,
// exe, fd/N) is whatever that process chose: a user could point
// /proc/PID/cwd of such a program at /etc by starting it there.
func onProc(fd int) bool {
	var fs unix.Statfs_t
	return unix.Fstatfs(fd, &fs) != nil || fs.Type == unix.PROC_SUPER_MAGIC
}

// curOnlyRoot reports whether only root can change the directory open at
// fd. A ".." (what cleaning leaves of it leads a relative name) climbs out
// of a directory that may have been moved since the name was given: the
// working directory of a program started in a volume, moved by the
// volume's owner to just below the volume's mount point, makes "../.."
// the directory that mount point is in. Moving a directory to another
// parent needs write permission on it and on both parents, so a
// directory that only root can change, or one found in a directory that
// only root can change, is where root left it.
func curOnlyRoot(fd int) bool {
	var st unix.Stat_t
	return stat(fd, &st) == nil && onlyRoot(&st)
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
