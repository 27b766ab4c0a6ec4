// Package plan resolves one gosu invocation into a Plan, once: identity,
// groups, environment, capabilities, terminal, fds, supervision. gosu then
// either prints the plan (--explain) or carries it out (Execute), so the two
// cannot drift, and no step runs twice.
//
// When a parent must stay (--init, --pty, or --detach-tty when gosu leads its
// session), the parent never switches itself: it starts a fresh gosu that
// receives the plan in numeric form (Child, FromResolved) and only switches
// and execs. The child never reads /etc again, so an account file changed in
// between cannot change who the command runs as.
package plan

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/caps"
	"gosu/internal/drop"
	"gosu/internal/environ"
	"gosu/internal/errs"
	"gosu/internal/fds"
	"gosu/internal/landlock"
	"gosu/internal/spec"
	"gosu/internal/tty"
	"gosu/internal/useradd"
)

// TTY modes.
const (
	Shared  = "shared"  // the caller's terminal, as it is
	Detach  = "detach"  // no controlling terminal, in this process
	Session = "session" // a new session without one, under a supervising parent
	PTY     = "pty"     // a new pseudo-terminal, relayed by a supervising parent
)

// Request is what the command line asks for, unresolved.
type Request struct {
	Spec    string
	Command []string

	KeepCaps        uint64
	AllowUnsafeCaps bool
	DropBounding    bool
	NoNewPrivs      bool
	CloseFDs        bool
	KeepFDs         []int
	KeepGroups      bool
	AddGroups       []string
	Env             environ.Options
	ParentDeathSig  syscall.Signal
	Parent          int // gosu's parent when it started, for ParentDeathSig

	DetachTTY bool
	PTY       bool

	Init        bool
	InitPGroup  bool
	InitSuccess []int
	InitGrace   time.Duration

	Chown          []string
	ChownFromUID   int64 // -1: any
	ChownFromGID   int64
	ChownRootDir   bool // --allow-chown-root-dir
	ChownFromSet   bool // --chown-from was given
	AddUser        bool
	AddUserName    string
	RemapUser      string
	AllowDupUID    bool
	AllowRootOwner bool
	AllowRootGroup bool
	// FollowRootSymlinks lets --chown's paths and the /PATH user spec go
	// through the symbolic links only root could have made.
	FollowRootSymlinks bool

	Landlock landlock.Request
}

// Plan is everything gosu does for one invocation, resolved.
type Plan struct {
	Spec     string // as given, for messages
	Command  []string
	Identity spec.Identity
	Target   drop.Target
	Env      []environ.Change
	Environ  []string // the command's whole environment
	Caller   []string // the caller's environment, to show what changes
	TTY      string
	Terms    [3]bool // which of stdin, stdout, stderr are terminals (PTY)
	CloseFDs bool
	KeepFDs  []int

	Init        bool
	InitPGroup  bool
	InitSuccess []int
	InitGrace   time.Duration

	// The entrypoint steps, run before the switch: AddUser, then Chown,
	// then RemapUser.
	AddUser   *useradd.Plan
	Chown     []Chown
	RemapUser *useradd.Plan

	// OwnerOf is the PATH of a /PATH user spec, "" for any other.
	OwnerOf string
	// FollowRootSymlinks: OwnerOf was, and Chown paths will be, resolved
	// through the symbolic links only root could have made.
	FollowRootSymlinks bool

	// Notes are printed on stderr before the plan is carried out.
	Notes []string
	// GroupsKept says the caller's groups are kept because it cannot drop
	// them (non-root, already the target's uid and gid).
	GroupsKept bool
	// AllowUnsafeCaps lets Target.KeepCaps hold capabilities that lead back
	// to root (--allow-unsafe-caps).
	AllowUnsafeCaps bool
	// Landlock confines COMMAND's file-system access, from after the switch.
	Landlock landlock.Rules
}

// Supervised reports whether a parent stays while the command runs.
func (p *Plan) Supervised() bool {
	return p.Init || p.TTY == PTY || p.TTY == Session
}

// Resolve turns the request into a plan, reading /etc/passwd and
// /etc/group and the process's own state once. environ is the caller's
// environment; name is gosu's name for notes.
func Resolve(r Request, env []string, name string) (Plan, error) {
	caller := spec.Caller{UID: uint32(unix.Getuid()), GID: uint32(unix.Getgid())}
	userSpec, ownerOfPath := r.Spec, ""
	if strings.HasPrefix(userSpec, "/") {
		owner, err := ownerOf(r)
		if err != nil {
			return Plan{}, err
		}
		userSpec, ownerOfPath = owner, r.Spec
	}
	id, err := spec.Resolve(userSpec, caller, account.System)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Spec: r.Spec, Command: r.Command, OwnerOf: ownerOfPath, FollowRootSymlinks: r.FollowRootSymlinks, Identity: id, Caller: env,
		CloseFDs: r.CloseFDs, KeepFDs: r.KeepFDs, AllowUnsafeCaps: r.AllowUnsafeCaps,
		Init: r.Init, InitPGroup: r.InitPGroup, InitSuccess: r.InitSuccess, InitGrace: r.InitGrace}
	if note := rootGroupNote(r, id, caller); note != "" {
		p.Notes = append(p.Notes, note)
	}
	from := Chown{FromUID: r.ChownFromUID, FromGID: r.ChownFromGID}
	switch {
	case r.AddUser:
		if err := p.resolveUser(r); err != nil {
			return Plan{}, err
		}
	case r.RemapUser != "":
		old, err := p.resolveRemap(r, userSpec)
		if err != nil {
			return Plan{}, err
		}
		if !r.ChownFromSet {
			from = old // --chown paths are re-owned as NAME's home is
		}
	}
	id = p.Identity
	for _, path := range r.Chown {
		p.Chown = append(p.Chown, Chown{Path: path, FromUID: from.FromUID, FromGID: from.FromGID, RootDir: r.ChownRootDir})
	}
	p.Target = drop.Target{UID: id.UID, GID: id.GID, Groups: id.Groups, KeepCaps: r.KeepCaps,
		LimitBounding: r.DropBounding, NoNewPrivs: r.NoNewPrivs, ParentDeathSignal: r.ParentDeathSig, Parent: r.Parent}
	if err := p.resolveCaps(); err != nil {
		return Plan{}, err
	}
	if err := p.resolveGroups(r); err != nil {
		return Plan{}, err
	}
	r.Landlock.FollowRootLinks = r.FollowRootSymlinks
	if err := p.resolveLandlock(r.Landlock); err != nil {
		return Plan{}, err
	}
	// After every descriptor gosu opens for the plan (Landlock's rules), so
	// that none of them can be named to keep.
	if err := fds.CheckKeep(r.KeepFDs); err != nil {
		return Plan{}, errs.Wrap("--keep-fds", err)
	}
	p.Env = environ.Changes(id, r.Env)
	p.Environ = environ.Apply(env, p.Env)
	p.resolveTTY(r, name)
	return p, nil
}

// resolveCaps checks --keep-caps against the user and what this process
// can hand on.
func (p *Plan) resolveCaps() error {
	keep := p.Target.KeepCaps
	if keep == 0 {
		return nil
	}
	if p.Target.UID == 0 {
		return errors.New("--keep-caps: the user is root, which keeps every capability anyway")
	}
	if bad, why := caps.Unsafe(keep); bad != 0 {
		names := joinNames(bad)
		if !p.AllowUnsafeCaps {
			return errors.New("--keep-caps: " + names + " would let COMMAND back to root or root's files (it can " + why +
				"); refused unless --allow-unsafe-caps is given")
		}
		p.Notes = append(p.Notes, "warning: --allow-unsafe-caps: COMMAND keeps "+names+", which can lead back to root")
	}
	if b, err := caps.Bounding(); err == nil && keep&^b != 0 {
		return errors.New("--keep-caps: " + joinNames(keep&^b) + " is not in the bounding set, so no process here can have it (was the container started without it?)")
	}
	if s, err := caps.Get(); err == nil && keep&^s.Permitted != 0 {
		return errors.New("--keep-caps: " + joinNames(keep&^s.Permitted) + " is not in gosu's permitted set, so it cannot be handed on")
	}
	return nil
}

func joinNames(mask uint64) string {
	out := ""
	for i, n := range caps.Names(mask) {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// resolveGroups adds the groups --keep-groups and --add-groups ask for, and
// keeps the groups of a non-root caller that cannot drop them.
func (p *Plan) resolveGroups(r Request) error {
	var extra []uint32
	if r.KeepGroups {
		kept, err := runtimeGroups()
		if err != nil {
			return errs.Wrap("--keep-groups", err)
		}
		extra = kept
	}
	added, err := spec.GroupIDs(r.AddGroups, account.System)
	if err != nil {
		return errs.Wrap("--add-groups", err)
	}
	p.Target.Groups = merge(p.Target.Groups, append(extra, added...))

	// A non-root caller that already has the target's uid and gid, but
	// supplementary groups it cannot drop (Kubernetes fsGroup and
	// supplementalGroups, docker run --group-add), runs the command with
	// them: a plain exec, as for its own identity.
	cur, err := drop.Current()
	if err != nil || cur.UID[1] == 0 {
		return nil
	}
	t := p.Target
	if cur.UID == [3]uint32{t.UID, t.UID, t.UID} && cur.GID == [3]uint32{t.GID, t.GID, t.GID} && !cur.Is(t) {
		if s, err := caps.Get(); err == nil && s.Effective&(1<<unix.CAP_SETGID) == 0 {
			p.Target.Groups, p.GroupsKept = cur.Groups, true
		}
	}
	return nil
}

// runtimeGroups are the supplementary groups gosu was started with that the
// container runtime added (docker run --group-add, Kubernetes
// supplementalGroups), without root's own: Docker also gives root every
// group /etc/group lists it in (on Alpine 0, 1, 2, 3, 4, 6 disk, 10 wheel),
// which must not reach the command.
func runtimeGroups() ([]uint32, error) {
	cur, err := drop.Current()
	if err != nil {
		return nil, err
	}
	roots, err := account.System.GroupsOf("root")
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, g := range cur.Groups {
		if g != 0 && !slices.Contains(roots, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// merge appends the gids of more that groups lacks, in order.
func merge(groups, more []uint32) []uint32 {
	out := slices.Clone(groups)
	for _, g := range more {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// resolveTTY decides how the command meets the terminal.
func (p *Plan) resolveTTY(r Request, name string) {
	p.TTY = Shared
	switch {
	case r.PTY:
		p.Terms = [3]bool{tty.IsTerminal(0), tty.IsTerminal(1), tty.IsTerminal(2)}
		switch {
		case p.Terms == [3]bool{}:
			// Nothing to relay: with no terminal on stdio, the only way to
			// the caller's terminal is as controlling terminal, which
			// detaching removes, and the command keeps gosu's PID.
			p.Notes = append(p.Notes, "--pty: no terminal on stdin, stdout or stderr; detaching from the controlling terminal instead")
			p.TTY = p.detach()
		case !p.Terms[0]:
			p.Notes = append(p.Notes, "--pty: stdin is not a terminal; passing it to COMMAND as it is, and only the terminal outputs through the new pseudo-terminal")
			p.TTY = PTY
		default:
			p.TTY = PTY
		}
	case r.DetachTTY:
		p.TTY = p.detach()
	}
}

// detach chooses how to detach. A session leader that merely gives up its
// terminal (TIOCNOTTY) stays a session leader, and the command it becomes
// could take the terminal back with TIOCSCTTY and inject input again; so
// when gosu leads its session and a terminal is about, the command runs in a
// new session under a parent that keeps the terminal as its own.
func (p *Plan) detach() string {
	if p.Init {
		return Session
	}
	if sid, err := unix.Getsid(0); err == nil && sid == unix.Getpid() && terminalAbout() {
		return Session
	}
	return Detach
}

// terminalAbout reports whether the process has a controlling terminal or a
// terminal on stdio.
func terminalAbout() bool {
	if fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0); err == nil {
		unix.Close(fd)
		return true
	}
	return tty.IsTerminal(0) || tty.IsTerminal(1) || tty.IsTerminal(2)
}
