package ownership

import (
	"golang.org/x/sys/unix"
	"strconv"
)

// links is what the walk knows of a file with several hard links that
// needs a change: a link to a file outside the tree (`ln /etc/shadow
// vol/x`) must not hand that file over, while a store of hard links inside
// the tree (pnpm) must still be fixed. The file is changed once the walk
// has counted as many distinct links to it as its link count.
//
// The count must not be fooled by a walk that sees one link twice, which a
// writer renaming entries during the walk can cause. Three rules together
// make that impossible (TestSwapRace runs the attacks):
//
//   - A sighting counts only if its directory did not change while it was
//     read: the directory's ctime is read before its first getdents and
//     again after its last entry. A rename in it between the two changes
//     that ctime (multigrain timestamps, Linux 6.13: once read, the next
//     change gets a distinct value even within the same clock tick), and a
//     rename already under way holds the directory's lock, which getdents
//     waits for.
//   - Every counted sighting shows the same ctime and link count of the
//     file: moving a link between directories, adding or removing one,
//     changes the file's ctime.
//   - Links are counted by directory inode and name: a directory renamed
//     during the walk (which leaves its files alone) shows the same pair
//     twice, and spoils the count.
//
// A spoiled count leaves the file alone and reports it. No descriptor is
// held between sightings: the file is changed through a fresh O_PATH
// descriptor, opened by name in the directory of the last sighting right
// after that directory passed the check, and only if it still is the same
// inode with the same ctime. So a tree of millions of hard links needs no
// more descriptors than any other, and no second pass.
type links struct {
	nlink uint32
	ctime unix.StatxTimestamp
	seen  []linkAt
	dir   *node // where the first link was found, for the report
	name  string
	bad   bool
}

type linkAt struct {
	dir  uint64 // the directory's inode
	name string
}

// sighting is a link found in the directory being read, counted once the
// directory is known not to have changed meanwhile.
type sighting struct {
	ino   uint64
	nlink uint32
	ctime unix.StatxTimestamp
	name  string
}

// sight notes a link, of a file that needs a change, found in dir. A link
// found outside the reading of its directory (a directory listed by
// getdents that was something else when opened) cannot be checked, and
// spoils the count.
func (k *worker) sight(dir *node, name []byte, st *unix.Statx_t, outside bool) {
	s := sighting{ino: st.Ino, nlink: st.Nlink, ctime: st.Ctime, name: str(name)}
	if !outside {
		k.sightings = append(k.sightings, s)
		return
	}
	w := k.w
	w.report.Lock()
	w.record(dir, s).bad = true
	w.report.Unlock()
}

// record returns the links of s's file, made on its first sighting. The
// caller holds w.report.
func (w *walker) record(dir *node, s sighting) *links {
	l := w.links[s.ino]
	if l == nil {
		l = &links{nlink: s.nlink, ctime: s.ctime, dir: dir, name: s.name}
		w.links[s.ino] = l
	}
	return l
}

// settle counts the sightings made while reading dir, if dir did not
// change meanwhile, and changes the files whose links are now all found.
func (k *worker) settle(dir *node) {
	if len(k.sightings) == 0 {
		return
	}
	if k.w.stop.Load() {
		k.sightings = k.sightings[:0]
		return
	}
	w := k.w
	var st unix.Statx_t
	stable := statxFd(dir.fd, &st) == nil && st.Ctime == dir.ctime
	var complete []sighting
	w.report.Lock()
	for _, s := range k.sightings {
		l := w.record(dir, s)
		at := linkAt{dir.ino, s.name}
		if !stable || l.nlink != s.nlink || l.ctime != s.ctime || len(l.seen) >= int(l.nlink) {
			l.bad = true
		}
		for _, x := range l.seen {
			if x == at {
				l.bad = true
			}
		}
		l.seen = append(l.seen, at)
		if !l.bad && len(l.seen) == int(l.nlink) {
			delete(w.links, s.ino)
			complete = append(complete, s)
		}
	}
	w.report.Unlock()
	k.sightings = k.sightings[:0]
	for _, s := range complete {
		k.changeLinked(dir, s)
	}
}

// changeLinked changes a file whose links were all found, through a fresh
// descriptor, if it still is the file that was counted.
func (k *worker) changeLinked(dir *node, s sighting) {
	w := k.w
	name := append([]byte(s.name), 0)
	fd, err := openPath(dir.fd, &name[0])
	if err != nil {
		w.trouble(dir, s.name, "cannot open", err)
		return
	}
	defer unix.Close(fd)
	st := &k.st
	if err := statxFd(fd, st); err != nil {
		w.trouble(dir, s.name, "cannot stat", err)
		return
	}
	if st.Ino != s.ino || st.Ctime != s.ctime || st.Nlink != s.nlink || !w.onMount(st) {
		w.skip(dir, s.name, changedDuringWalk, ": hard links changed during the walk")
		return
	}
	uid, gid, ok := w.want(st)
	if !ok {
		return
	}
	if err := chownFd(fd, uid, gid); err != nil {
		w.trouble(dir, s.name, "cannot change owner", err)
		return
	}
	k.changed++
}

// linksLeft reports the files whose links were not all found, after the
// walk.
func (w *walker) linksLeft() {
	if w.err != nil {
		return
	}
	for _, l := range w.links {
		if l.bad {
			w.skip(l.dir, l.name, changedDuringWalk, ": hard links changed during the walk")
			continue
		}
		found := uint32(len(l.seen))
		w.skip(l.dir, l.name, linksOutside, ": "+strconv.FormatUint(uint64(l.nlink), 10)+" hard links, "+strconv.FormatUint(uint64(l.nlink-min(found, l.nlink)), 10)+" outside the tree")
	}
}
