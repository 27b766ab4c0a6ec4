package ownership

import (
	"golang.org/x/sys/unix"

	"gosu/internal/dirent"
)

// worker walks directories taken from the walker's stack. Its counters are
// added to the walker's after each directory, for the progress line.
type worker struct {
	w             *walker
	buf           []byte
	st            unix.Statx_t
	seen, changed uint64
	// eager: the last entry needed a change, so the next one likely does
	// too (a first run): open it straight away instead of looking at its
	// name first. That saves one statx per entry on a first run and costs
	// one open and close per entry where a run of changes ends.
	eager bool
	// sightings are the links to count once the directory being read
	// proves unchanged (see links).
	sightings []sighting
}

func (k *worker) loop() {
	for n := k.w.pop(); n != nil; n = k.w.pop() {
		for n != nil {
			n = k.step(n)
			k.flush()
		}
		k.w.idle()
	}
}

func (k *worker) flush() {
	k.w.seen.Add(k.seen)
	k.w.changed.Add(k.changed)
	k.seen, k.changed = 0, 0
	k.w.progress()
}

// step reads n if it was not read yet and opens its next subdirectory. It
// returns that subdirectory for this worker to go on with (offering n, if
// it has more, to the others), or nil when n is done.
func (k *worker) step(n *node) *node {
	w := k.w
	if w.stop.Load() {
		w.release(n)
		return nil
	}
	if n.fd < 0 && !w.reopen(n) {
		w.release(n)
		return nil
	}
	if !n.read {
		removed := !k.readDir(n)
		k.settle(n)
		n.read = true
		n.rootOnly = false
		if removed {
			w.release(n)
			return nil
		}
		if (n.uid >= 0 || n.gid >= 0) && !w.stop.Load() {
			if err := chownFd(n.fd, n.uid, n.gid); err != nil {
				w.trouble(n, "", "cannot change owner", err)
			} else {
				k.changed++
			}
		}
	}
	for len(n.subdirs) > 0 && !w.stop.Load() {
		last := len(n.subdirs) - 1
		name := n.subdirs[last]
		n.subdirs = n.subdirs[:last]
		c := k.openDir(n, name)
		if c == nil {
			continue
		}
		if len(n.subdirs) > 0 {
			w.push(n)
		} else {
			w.release(n)
		}
		return c
	}
	w.release(n)
	return nil
}

// readDir handles every entry of n but its subdirectories, which it lists
// in n.subdirs. Names are passed on inside the getdents buffer, NUL
// included, so that files cost no allocation. It returns false when n was
// removed during the walk (getdents on a removed directory fails with
// ENOENT): what it held is gone, and n needs nothing more.
func (k *worker) readDir(n *node) bool {
	for !k.w.stop.Load() {
		nb, err := unix.Getdents(n.fd, k.buf)
		if err != nil {
			if gone(err) {
				return false
			}
			k.w.fail(n, "", "cannot read directory", err)
			return true
		}
		if nb <= 0 {
			return true
		}
		r := dirent.Records(k.buf[:nb])
		for name, typ, ok := r.Next(); ok && !k.w.stop.Load(); name, typ, ok = r.Next() {
			if typ == unix.DT_DIR {
				n.subdirs = append(n.subdirs, str(name))
				continue
			}
			k.entry(n, name, typ, false)
			if k.seen >= progressBatch {
				k.flush()
			}
		}
	}
	return true
}

// entry handles one entry of dir that is not known to be a directory. name
// ends in NUL. fromDir is set when the entry was listed as a directory and
// then turned out not to be one when opened: a directory it has become
// again is then left alone instead of going round in circles.
//
// The decision is made and the change applied on one O_PATH descriptor:
// open by name without following (a symbolic link gives the link itself),
// fstat that descriptor, change it with fchownat(AT_EMPTY_PATH). A name
// swapped for another file in between cannot redirect the change, and
// O_PATH never opens the file itself (a FIFO or device does not block or
// wake a driver).
func (k *worker) entry(dir *node, name []byte, typ uint8, fromDir bool) {
	if dir.rootOnly {
		k.entryByName(dir, name)
		return
	}
	w := k.w
	p := &name[0]
	st := &k.st
	if !k.eager || typ == unix.DT_UNKNOWN {
		// The cheap look first: on a restart nearly every entry is right.
		if err := statxAt(dir.fd, p, st); err != nil {
			w.trouble(dir, str(name), "cannot stat", err)
			return
		}
		if !k.plain(dir, name, st, fromDir) {
			return
		}
		if _, _, ok := w.want(st); !ok {
			k.seen++
			return
		}
	}
	fd, err := openPath(dir.fd, p)
	if err != nil {
		w.trouble(dir, str(name), "cannot open", err)
		return
	}
	defer unix.Close(fd)
	if err := statxFd(fd, st); err != nil {
		w.trouble(dir, str(name), "cannot stat", err)
		return
	}
	if !k.plain(dir, name, st, fromDir) {
		return
	}
	k.seen++
	uid, gid, ok := w.want(st)
	k.eager = ok
	if !ok {
		return
	}
	if st.Nlink > 1 {
		k.sight(dir, name, st, fromDir)
		return
	}
	if err := chownFd(fd, uid, gid); err != nil {
		w.trouble(dir, str(name), "cannot change owner", err)
		return
	}
	k.changed++
}

// entryByName handles an entry of a directory that only root can change:
// owned by root, without write permission for group or others (an ACL's
// mask shows in the group bits, so no ACL grants it either), and not
// changed itself until its entries are done. No one but root can then
// swap a name between the check and the change, so both go by name, as
// chown -R does: statx and fchownat(AT_SYMLINK_NOFOLLOW), two calls
// instead of four (open, fstat, fchownat, close). That is a first run's
// usual case (an image's root-owned tree) and halves its cost.
func (k *worker) entryByName(dir *node, name []byte) {
	w := k.w
	p := &name[0]
	st := &k.st
	if err := statxAt(dir.fd, p, st); err != nil {
		w.trouble(dir, str(name), "cannot stat", err)
		return
	}
	if !k.plain(dir, name, st, false) {
		return
	}
	k.seen++
	uid, gid, ok := w.want(st)
	if !ok {
		return
	}
	if st.Nlink > 1 {
		k.sight(dir, name, st, false)
		return
	}
	if err := chownAt(dir.fd, p, uid, gid); err != nil {
		w.trouble(dir, str(name), "cannot change owner", err)
		return
	}
	k.changed++
}

// plain sorts out what entry must not change: a directory (listed for
// opening, unless fromDir) and a mount point (a file bind-mounted over a
// file), recorded.
func (k *worker) plain(dir *node, name []byte, st *unix.Statx_t, fromDir bool) bool {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if fromDir {
			k.w.skip(dir, str(name), changedDuringWalk, ": replaced during the walk, not entered")
		} else {
			dir.subdirs = append(dir.subdirs, str(name))
		}
		return false
	}
	if !k.w.onMount(st) {
		k.w.mount(dir, str(name))
		return false
	}
	return true
}

// openDir opens the subdirectory name of dir and changes it. It returns its
// node, or nil when there is nothing to walk: it is a mount point, it is
// gone, it is no longer a directory (then handled as an entry), or the walk
// failed.
func (k *worker) openDir(dir *node, name string) *node {
	w := k.w
	fd, err := openDirAt(dir.fd, name)
	if err != nil {
		switch err {
		case unix.ELOOP, unix.ENOTDIR:
			k.entry(dir, append([]byte(name), 0), unix.DT_UNKNOWN, true)
		default:
			w.trouble(dir, name, "cannot open directory", err)
		}
		return nil
	}
	st := &k.st
	if err := statxFd(fd, st); err != nil {
		unix.Close(fd)
		w.trouble(dir, name, "cannot stat", err)
		return nil
	}
	if !w.onMount(st) {
		unix.Close(fd)
		w.mount(dir, name)
		return nil
	}
	k.seen++
	w.held.Add(1)
	return w.newNode(dir, name, fd, st)
}

func str(name []byte) string {
	if len(name) > 0 && name[len(name)-1] == 0 {
		name = name[:len(name)-1]
	}
	return string(name)
}
