package ownership

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/resolve"
)

// maxWorkers bounds Options.Workers. Workers beyond GOMAXPROCS only wait
// for a P (see sys.go).
const maxWorkers = 64

// bufSize is each worker's getdents buffer (coreutils' fts uses 32 KiB).
const bufSize = 32 << 10

// node is a directory of the walk. Its names and inode numbers never change
// once made, so that any worker can follow a node's parents to name it or to
// reopen it; fd, read and subdirs belong to the one worker (or the stack)
// holding the node.
type node struct {
	parent  *node
	name    string // in the parent; "" for the root
	ino     uint64
	fd      int      // O_RDONLY|O_DIRECTORY, or -1 while parked
	read    bool     // its entries were read: subdirs is complete
	subdirs []string // subdirectories not yet opened
	// rootOnly: only root can add, remove or rename its entries (see
	// worker.entry); it is kept so until its entries were read.
	rootOnly bool
	// uid and gid are what the directory itself gets once its entries
	// were read; -1 leaves one as it is.
	uid, gid int
	// ctime is the directory's, read before its entries: a change while
	// they are read shows (see links).
	ctime unix.StatxTimestamp
}

// newNode makes the node of the directory open at fd, described by st.
func (w *walker) newNode(parent *node, name string, fd int, st *unix.Statx_t) *node {
	uid, gid, _ := w.want(st)
	return &node{parent: parent, name: name, ino: st.Ino, fd: fd, uid: uid, gid: gid,
		ctime: st.Ctime, rootOnly: st.Uid == 0 && st.Mode&0o022 == 0}
}

// walker is one Fix: the shared stack of directories still to walk, the
// counters and what the walk found.
type walker struct {
	root   string // as given, to name entries
	rootFd int    // the root directory, open for the whole walk: parked nodes are reopened from it
	mnt    uint64 // the root's mount id; 0 where statx cannot tell (Linux < 5.8)
	dev    [2]uint32
	o      Options
	budget int64 // directory descriptors held before parking starts

	mu     sync.Mutex
	wake   chan struct{} // a token per wake-up, in place of a sync.Cond (smaller)
	stack  []*node
	parked int // stack[:parked] hold no descriptor
	active int // workers holding a node

	held          atomic.Int64 // directory descriptors held by nodes
	reopens       atomic.Uint64
	nextLine      atomic.Int64 // when the progress line is due, in Unix ns; 0: never
	shown         atomic.Bool  // a progress line was written
	stop          atomic.Bool
	seen, changed atomic.Uint64

	// report guards err, stats and links.
	report sync.Mutex
	err    error
	stats  Stats
	links  map[uint64]*links
}

// Fix gives the tree at path to o.UID and o.GID (within the limits of
// o.FromUID and o.FromGID) and returns what it did. The root itself is
// changed too.
//
// path is resolved by package resolve: from /, cleaned by name, without
// following a symbolic link in any component, the last included (unless
// o.FollowRootSymlinks, and then only the links only root could have
// made); the walk then holds the root's descriptor and never uses the path
// again. The root directory of the process (path "/", or any name that
// leads there) is refused with ErrRootDir unless o.RootDir.
//
// An entry that vanishes during the walk needs nothing. An entry the kernel
// refuses to open or change for this process (no permission, a read-only
// file system, an owner or id the user namespace does not map) is left as
// it is and listed in the Stats, and the walk goes on. Any other failure
// stops the walk (the workers finish the entry they hold and close every
// descriptor) and is returned as an *Error naming the entry; the Stats then
// tell what was done before it.
func Fix(path string, o Options) (Stats, error) {
	w := &walker{root: path, o: o, rootFd: -1}
	w.stats.Path = path
	if o.UID == ^uint32(0) || o.GID == ^uint32(0) {
		return w.stats, &Error{Path: path, Op: "", Err: errors.New("uid and gid 4294967295 mean \"no change\" to the kernel and cannot be given")}
	}
	root, err := w.openRoot()
	if err != nil || root == nil {
		w.closeRoot()
		w.stats.Seen, w.stats.Changed = w.seen.Load(), w.changed.Load()
		return w.stats, err
	}
	limit := fdLimit()
	w.budget = int64(o.dirBudget)
	if w.budget <= 0 {
		w.budget = int64(min(max(limit/4, 2), 4096))
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Each worker holds its own directory beyond the budget and opens up
	// to two more at a time (an entry's O_PATH handle and the next
	// directory; or a reopen's two steps): with a limit of 16 (ulimit -n
	// 16, TestFewDescriptors), one worker and a budget of 4 fit beside
	// stdio.
	workers = min(workers, maxWorkers, max(int(limit/16), 1))
	w.wake = make(chan struct{}, workers)

	w.startProgress()
	w.links = map[uint64]*links{}
	w.push(root)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := worker{w: w, buf: make([]byte, bufSize)}
			k.loop()
		}()
	}
	wg.Wait()
	w.endProgress()
	w.closeRoot()
	w.linksLeft()
	w.stats.Seen, w.stats.Changed = w.seen.Load(), w.changed.Load()
	w.stats.reopens = w.reopens.Load()
	// Workers finish in any order.
	sortKept(w.stats.Skipped)
	sortKept(w.stats.Mounts)
	return w.stats, w.err
}

// ErrRootDir is what Fix refuses, unless Options.RootDir: the root
// directory of the process, which would give away the whole file system.
var ErrRootDir = errors.New("is the root directory: giving it away gives away the whole file system")

// openRoot resolves the root and changes it. It returns the root's node, or
// nil when the root is not a directory (then handled here) or on error.
func (w *walker) openRoot() (*node, error) {
	handle, err := resolve.Open(w.root, w.o.FollowRootSymlinks)
	if err != nil {
		return nil, &Error{Path: w.root, Op: "cannot open", Err: err}
	}
	defer unix.Close(handle)
	var st unix.Statx_t
	if err := statxFd(handle, &st); err != nil {
		return nil, &Error{Path: w.root, Op: "cannot stat", Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, w.fixRootFile(handle, &st)
	}
	if !w.o.RootDir && isRootDir(&st) {
		return nil, &Error{Path: w.root, Err: ErrRootDir}
	}
	// The directory itself, for reading: "." of the handle cannot be
	// anything else.
	fd, err := openDirAt(handle, ".")
	if err != nil {
		return nil, &Error{Path: w.root, Op: "cannot open", Err: err}
	}
	w.rootFd = fd
	if err := statxFd(fd, &st); err != nil {
		return nil, &Error{Path: w.root, Op: "cannot stat", Err: err}
	}
	w.setMount(&st)
	w.seen.Add(1)
	// The root node gets a descriptor of its own, which it closes when
	// done; w.rootFd stays open for reopening parked nodes.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Path: w.root, Op: "cannot duplicate descriptor", Err: err}
	}
	w.held.Add(1)
	return w.newNode(nil, "", dup, &st), nil
}

// isRootDir reports whether st is the root directory of this process: "/"
// is where every absolute path starts, so no name can lead above it. The
// mount does not count: a bind mount of "/" elsewhere (mount --bind / /mnt)
// is the same directory, and gives away the same files.
func isRootDir(st *unix.Statx_t) bool {
	var root unix.Statx_t
	if statxAt(unix.AT_FDCWD, unsafe.StringData("/\x00"), &root) != nil {
		return true // cannot tell: refuse
	}
	return st.Ino == root.Ino && st.Dev_major == root.Dev_major && st.Dev_minor == root.Dev_minor
}

// fixRootFile handles a root that is not a directory, open at fd (O_PATH)
// and described by st. Its other hard links, if any, cannot be inside a
// tree made of one file.
func (w *walker) fixRootFile(fd int, st *unix.Statx_t) error {
	w.seen.Add(1)
	uid, gid, ok := w.want(st)
	if !ok {
		return nil
	}
	if st.Nlink > 1 {
		w.skip(nil, "", linksOutside, ": "+strconv.FormatUint(uint64(st.Nlink), 10)+" hard links, "+strconv.FormatUint(uint64(st.Nlink-1), 10)+" outside the tree")
		return nil
	}
	if err := chownFd(fd, uid, gid); err != nil {
		w.trouble(nil, "", "cannot change owner", err)
		return w.err
	}
	w.changed.Add(1)
	return nil
}

func (w *walker) closeRoot() {
	if w.rootFd >= 0 {
		unix.Close(w.rootFd)
		w.rootFd = -1
	}
}

// setMount records the mount the walk stays on. Mount ids tell bind mounts
// of the same file system apart, which st_dev does not.
func (w *walker) setMount(st *unix.Statx_t) {
	if st.Mask&unix.STATX_MNT_ID != 0 {
		w.mnt = st.Mnt_id
	}
	w.dev = [2]uint32{st.Dev_major, st.Dev_minor}
}

// onMount reports whether st is on the root's mount.
func (w *walker) onMount(st *unix.Statx_t) bool {
	if w.mnt != 0 && st.Mnt_id != w.mnt {
		return false
	}
	return st.Dev_major == w.dev[0] && st.Dev_minor == w.dev[1]
}

// want says which ids an entry must get: -1 leaves one as it is.
//
// With both FromUID and FromGID, owner and group are matched apart, as
// fixuid does (an entry of the old uid and group root gets the new owner
// and keeps group root). With only one of them, an entry must match it to
// change at all, as with chown --from: --chown-from=:1000 must not give
// root's files away, nor --chown-from=1000: give them the user's group.
func (w *walker) want(st *unix.Statx_t) (uid, gid int, change bool) {
	uid, gid = -1, -1
	matchU := w.o.FromUID < 0 || int64(st.Uid) == w.o.FromUID
	matchG := w.o.FromGID < 0 || int64(st.Gid) == w.o.FromGID
	if w.o.FromUID < 0 || w.o.FromGID < 0 {
		matchU = matchU && matchG
		matchG = matchU
	}
	if st.Uid != w.o.UID && matchU {
		uid = int(w.o.UID)
	}
	if st.Gid != w.o.GID && matchG {
		gid = int(w.o.GID)
	}
	return uid, gid, uid >= 0 || gid >= 0
}

// fdLimit is the descriptor limit, which Go raises to the hard limit at
// start-up. A quarter of it is the budget of directory descriptors that
// nodes may hold before the oldest waiting ones are parked (closed, to be
// reopened later), at most 4,096.
func fdLimit() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 256
	}
	return rl.Cur
}

// push offers n, which has subdirectories left, to any worker. When nodes
// hold more descriptors than the budget, the oldest nodes on the stack are
// parked: they are the shallowest, so the cheapest to reopen, and the last
// to be needed.
func (w *walker) push(n *node) {
	w.mu.Lock()
	w.stack = append(w.stack, n)
	for w.held.Load() > w.budget && w.parked < len(w.stack) {
		if p := w.stack[w.parked]; p.fd >= 0 {
			unix.Close(p.fd)
			p.fd = -1
			w.held.Add(-1)
		}
		w.parked++
	}
	w.mu.Unlock()
	w.signal(1)
}

// signal wakes up to n waiting workers; a token sent before anyone waits
// stays in the channel, so no wake-up is lost, and a waiter that finds
// nothing to do waits again.
func (w *walker) signal(n int) {
	for range n {
		select {
		case w.wake <- struct{}{}:
		default:
			return
		}
	}
}

// pop waits for a node; nil when the walk is over: no node is left and no
// worker holds one that could yield more.
func (w *walker) pop() *node {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.stack) == 0 && w.active > 0 {
		w.mu.Unlock()
		<-w.wake
		w.mu.Lock()
	}
	if len(w.stack) == 0 {
		w.signal(cap(w.wake))
		return nil
	}
	n := w.stack[len(w.stack)-1]
	w.stack[len(w.stack)-1] = nil
	w.stack = w.stack[:len(w.stack)-1]
	w.parked = min(w.parked, len(w.stack))
	w.active++
	return n
}

// idle says the worker holds no node any more.
func (w *walker) idle() {
	w.mu.Lock()
	w.active--
	last := w.active == 0 && len(w.stack) == 0
	w.mu.Unlock()
	if last {
		w.signal(cap(w.wake))
	}
}

// release closes n's descriptor: n is done, or the walk is stopping.
func (w *walker) release(n *node) {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
		w.held.Add(-1)
	}
	n.subdirs = nil
}

// fail records the first error and stops the walk.
func (w *walker) fail(dir *node, name, op string, err error) {
	w.report.Lock()
	if w.err == nil {
		w.err = &Error{Path: w.path(dir, name), Op: op, Err: err}
	}
	w.report.Unlock()
	w.stop.Store(true)
}

// trouble handles a failed call on an entry (op says which, such as
// "cannot change owner"): nothing for an entry that vanished, a note for one
// the kernel will not let this process open or change, and the end of the
// walk for anything else.
func (w *walker) trouble(dir *node, name, op string, err error) {
	switch {
	case gone(err):
	case refused(err):
		w.skip(dir, name, notPermitted, ": "+op+": "+err.Error())
	default:
		w.fail(dir, name, op, err)
	}
}

// gone is true for the errors of an entry removed since it was listed or
// opened: getdents, openat and statx in a directory that was removed give
// ENOENT, and NFS gives ESTALE for a handle whose file is gone.
func gone(err error) bool {
	return err == unix.ENOENT || err == unix.ESTALE
}

// refused is true for the errors with which the kernel refuses this process
// one entry, and would refuse it again on the next start: EACCES (a
// directory it cannot read: CAP_DAC_READ_SEARCH dropped), EPERM (an
// immutable or append-only file; an owner the user namespace does not map,
// over which it has no CAP_CHOWN; an LSM), EROFS (a read-only mount),
// EINVAL and EOVERFLOW (an id the user namespace or an idmapped mount
// cannot represent). Such an entry is left as it is and listed: the start
// goes on, and says so.
func refused(err error) bool {
	switch err {
	case unix.EACCES, unix.EPERM, unix.EROFS, unix.EINVAL, unix.EOVERFLOW:
		return true
	}
	return false
}

// skip records an entry left alone; why starts with ": ".
func (w *walker) skip(dir *node, name string, r reason, why string) {
	w.report.Lock()
	w.stats.SkippedCount++
	w.stats.reasons |= r
	if len(w.stats.Skipped) < kept {
		w.stats.Skipped = append(w.stats.Skipped, errs.Quote(w.path(dir, name))+why)
	}
	w.report.Unlock()
}

// mount records a mount point that the walk did not enter.
func (w *walker) mount(dir *node, name string) {
	w.report.Lock()
	w.stats.MountCount++
	if len(w.stats.Mounts) < kept {
		w.stats.Mounts = append(w.stats.Mounts, errs.Quote(w.path(dir, name)))
	}
	w.report.Unlock()
}

// path names an entry for the user: the root as given, joined with the
// entry's path below it. It is built only for messages, from the parent
// chain, so that deep trees cost no path strings.
func (w *walker) path(dir *node, name string) string {
	var parts []string
	if name != "" {
		parts = append(parts, name)
	}
	for a := dir; a != nil && a.parent != nil; a = a.parent {
		parts = append(parts, a.name)
	}
	if len(parts) == 0 {
		return w.root
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(w.root, "/"))
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// reopen gives a parked node a descriptor again, by walking down from the
// root one O_NOFOLLOW directory at a time and checking that every step is
// still the directory (inode and mount) the walk saw. A step that is not
// means the tree was moved during the walk: that subtree is skipped.
func (w *walker) reopen(n *node) bool {
	var chain []*node
	for a := n; a.parent != nil; a = a.parent {
		chain = append(chain, a)
	}
	cur, err := unix.FcntlInt(uintptr(w.rootFd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		w.fail(n, "", "cannot reopen directory", err)
		return false
	}
	for i := len(chain) - 1; i >= 0; i-- {
		a := chain[i]
		fd, err := openDirAt(cur, a.name)
		unix.Close(cur)
		if err != nil {
			if gone(err) || err == unix.ENOTDIR || err == unix.ELOOP {
				w.skip(n, "", changedDuringWalk, ": moved during the walk, not entered")
			} else {
				w.trouble(a.parent, a.name, "cannot reopen directory", err)
			}
			return false
		}
		var st unix.Statx_t
		if err := statxFd(fd, &st); err != nil || st.Ino != a.ino || !w.onMount(&st) {
			unix.Close(fd)
			w.skip(n, "", changedDuringWalk, ": moved during the walk, not entered")
			return false
		}
		cur = fd
	}
	n.fd = cur
	w.held.Add(1)
	w.reopens.Add(1)
	return true
}

// sortKept sorts one of the short lists of Stats. An insertion sort of at
// most 20 names: slices.Sort would add 10 KB of generic code to gosu.
func sortKept(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
