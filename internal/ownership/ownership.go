// Package ownership gives a directory tree to a new owner before gosu steps
// down: the safe, fast form of the `find DIR \! -user U -exec chown U {} +`
// and `chown -R` lines of official images' entrypoints.
//
// Those lines run as root over a volume whose contents an unprivileged
// program wrote, and so they can be turned against root: they follow a
// symbolic link (a link in the volume to a root file makes that file the
// user's), re-own a planted hard link to a file outside, descend into
// whatever is mounted below, and re-own everything on every start (fixuid#35:
// 9.5 minutes for a large volume). Fix instead
//
//   - walks by directory file descriptors, never by path strings, and never
//     follows a symbolic link (links themselves get the new owner);
//   - changes each entry through an O_PATH descriptor it has just fstat'ed,
//     so a name swapped between the check and the change cannot redirect it;
//   - stays on the mount it started on (other file systems and bind mounts
//     below are neither entered nor changed);
//   - changes a file with several hard links only when it found every link
//     inside the tree;
//   - changes only what is not already right, so a restart with nothing to do
//     is a read-only walk;
//   - walks directories in parallel with a bounded number of workers and of
//     open descriptors, whatever the depth or width of the tree.
//
// docs/ownership.md has the design and the measurements.
package ownership

import (
	"strconv"
	"strings"
	"time"

	"gosu/internal/errs"
)

// Options say who gets the tree and how the walk runs. Its zero value is not
// "no options": FromUID and FromGID 0 would narrow the change to root's
// files and Progress 0 is stdin; start from New.
type Options struct {
	// UID and GID are the new owner and group.
	UID, GID uint32
	// FromUID and FromGID narrow the change as chown --from and fixuid do:
	// only an entry whose uid is FromUID gets UID, and, independently, only
	// an entry whose gid is FromGID gets GID. -1 matches any.
	FromUID, FromGID int64
	// Workers is the number of directories walked at once; 0 is GOMAXPROCS.
	Workers int
	// Progress is a descriptor (a terminal) that gets a one-line progress
	// report, rewritten in place with "\r", once the walk has run longer
	// than about two seconds, and cleared at the end; -1 for none.
	Progress int
	// FollowRootSymlinks lets the path given to Fix go through the symbolic
	// links that only root could have made (package resolve); below the
	// root, no link is ever followed.
	FollowRootSymlinks bool
	// RootDir lets the path given to Fix be the root directory.
	RootDir bool

	// progressAfter replaces the two seconds (tests).
	progressAfter time.Duration
	// dirBudget replaces the bound on open directory descriptors (tests).
	dirBudget int
}

// New returns the options that give everything to uid and gid, with as
// many workers as GOMAXPROCS and no progress line.
func New(uid, gid uint32) Options {
	return Options{UID: uid, GID: gid, FromUID: -1, FromGID: -1, Progress: -1}
}

// kept is how many names Stats lists; the counts go on past it.
const kept = 20

// Stats is what a walk did.
type Stats struct {
	// Path is the root as given.
	Path string
	// Seen counts the entries examined on the root's mount (each hard link
	// is an entry); Changed the inodes whose owner or group was changed.
	Seen, Changed uint64
	// Skipped names entries left alone, with the reason, as printed: the
	// path quoted (errs.Quote), such as `"/data/x": 2 hard links, 1 outside
	// the tree` or `"/data/y": cannot change owner: read-only file system`.
	// The first 20 only.
	Skipped []string
	// SkippedCount counts them all.
	SkippedCount uint64
	// Mounts names the mount points below the root that were neither
	// entered nor changed, quoted: the first 20 only.
	Mounts []string
	// MountCount counts them all.
	MountCount uint64

	reasons reason
	reopens uint64 // parked directories reopened (tests)
}

// reason is a set of the kinds of skipped entries, for Summary.
type reason uint8

const (
	linksOutside reason = 1 << iota
	changedDuringWalk
	notPermitted // the kernel refused to open or change it
)

// Summary is one line for the user, such as
// `chown "/data": 12 of 3400 changed, 3 skipped (hard links outside), 1 mount not entered`.
func (s Stats) Summary() string {
	line := "chown " + errs.Quote(s.Path) + ": " + strconv.FormatUint(s.Changed, 10) + " of " + strconv.FormatUint(s.Seen, 10) + " changed"
	if s.SkippedCount > 0 {
		var why []string
		if s.reasons&linksOutside != 0 {
			why = append(why, "hard links outside")
		}
		if s.reasons&changedDuringWalk != 0 {
			why = append(why, "changed during the walk")
		}
		if s.reasons&notPermitted != 0 {
			why = append(why, "cannot be changed")
		}
		line += ", " + strconv.FormatUint(s.SkippedCount, 10) + " skipped"
		if len(why) > 0 {
			line += " (" + strings.Join(why, ", ") + ")"
		}
	}
	switch s.MountCount {
	case 0:
	case 1:
		line += ", 1 mount not entered"
	default:
		line += ", " + strconv.FormatUint(s.MountCount, 10) + " mounts not entered"
	}
	return line
}

// Error is a failure of the walk, naming the entry: the root as given,
// joined with the path below it, quoted when printed.
type Error struct {
	Path string
	Op   string // what failed, such as "cannot open directory"
	Err  error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return "chown " + errs.Quote(e.Path) + ": " + e.Err.Error()
	}
	return "chown " + errs.Quote(e.Path) + ": " + e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
