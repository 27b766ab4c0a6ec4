package plan

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/errs"
	"gosu/internal/ownership"
	"gosu/internal/resolve"
	"gosu/internal/spec"
	"gosu/internal/tty"
	"gosu/internal/useradd"
)

// The entrypoint steps: what an entrypoint does as root before it steps
// down, done by gosu once, in the process that then switches (or, with a
// supervising parent, in the parent before it starts the child).

// Chown is one ownership fix: a tree to give to the target.
type Chown struct {
	Path             string
	FromUID, FromGID int64 // -1: any
	RootDir          bool  // Path may be the root directory (--allow-chown-root-dir)
}

// ownerOf resolves the spec form "/PATH": the uid and gid that own PATH, as
// "UID:GID". PATH is resolved as --chown's is (package resolve): from /,
// without following a symbolic link in any component, so a user who owns
// the directory PATH is in cannot plant a link that picks someone else's
// files, unless --follow-root-symlinks and root made the link.
//
// Refused unless allowed:
//   - root as the owner (--allow-root-owner): a volume that failed to mount
//     leaves the image's root-owned directory, which would otherwise run
//     everything as root;
//   - group root (--allow-root-group, or --allow-root-owner): files owned
//     UID:0 (OpenShift's layout, or any file a user made group 0's) would
//     give the command gid 0;
//   - a file with more than one hard link: a user can link in another's
//     file (where fs.protected_hardlinks allows it), so its owner says
//     nothing of whose PATH is.
func ownerOf(r Request) (string, error) {
	path, command := errs.Quote(r.Spec), "COMMAND"
	if len(r.Command) > 0 {
		command = errs.Quote(r.Command[0])
	}
	fd, err := resolve.Open(r.Spec, r.FollowRootSymlinks)
	if err != nil {
		return "", errs.Wrap("owner of "+path, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return "", errs.Wrap("owner of "+path, err)
	}
	uid, gid := strconv.FormatUint(uint64(st.Uid), 10), strconv.FormatUint(uint64(st.Gid), 10)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1:
		return "", errors.New(path + " has " + strconv.FormatUint(uint64(st.Nlink), 10) + " hard links, which anyone could have made to a file of another user: refusing to run " +
			command + " as its owner; give a directory, or the user spec as " + uid + ":" + gid)
	case st.Uid == 0 && !r.AllowRootOwner:
		return "", errors.New(path + " is owned by root; refusing to run " + command + " as its owner, root (is the volume mounted?); --allow-root-owner allows it")
	case st.Gid == 0 && !r.AllowRootOwner && !r.AllowRootGroup:
		return "", errors.New(path + " belongs to group root (" + uid + ":0); refusing to run " + command +
			" with group root: give the user spec as UID:GID (" + uid + ":GID), or --allow-root-group")
	}
	return uid + ":" + gid, nil
}

// resolveUser plans the passwd entry (and group, shadow line, home) that
// --add-user asks for when the target has none, and makes the identity
// exactly what later starts, finding the entry, will resolve: its name,
// home and shell, and, unless the spec named the group, the groups whose
// member lists already name it (issue 12.10).
func (p *Plan) resolveUser(r Request) error {
	u, err := useradd.System.Check(useradd.Request{UID: p.Identity.UID, GID: p.Identity.GID, Name: r.AddUserName})
	if err != nil {
		return errs.Wrap("--add-user", err)
	}
	if u.Found && r.AddUserName != "" && u.Name != r.AddUserName {
		// Issue 12.9: uid 100 is mysql's, with home /nonexistent, where
		// git and pip --user fail; running as it must not be silent.
		p.Notes = append(p.Notes, "--add-user="+r.AddUserName+": uid "+strconv.FormatUint(uint64(u.UID), 10)+
			" already has a passwd entry, "+errs.Quote(u.Name)+" (home "+errs.Quote(u.Home)+"), which COMMAND runs as")
	}
	if u.Nothing() {
		return nil
	}
	p.AddUser = u
	if p.Identity.Name == "" {
		p.Identity.Name, p.Identity.Home, p.Identity.Shell = u.Name, u.Home, u.Shell
		if !p.Identity.ExplicitGroup {
			if p.Identity.Groups, err = account.System.GroupsOf(u.Name); err != nil {
				return errs.Wrap("--add-user", err)
			}
		}
	}
	return nil
}

// resolveRemap plans giving the user --remap-user names the ids the spec
// gives, and makes the identity that user's as it will be: its name, home,
// shell and groups. It returns the ids the user had, which its home (and
// the --chown paths, unless --chown-from says otherwise) are re-owned
// from.
func (p *Plan) resolveRemap(r Request, userSpec string) (Chown, error) {
	name := errs.Quote(r.RemapUser)
	u, g, _ := strings.Cut(userSpec, ":")
	uid, err := account.ParseID(u)
	gid, err2 := account.ParseID(g)
	if err != nil || err2 != nil {
		return Chown{}, errors.New("--remap-user=" + errs.Printable(r.RemapUser) + " needs ids as USER-SPEC: UID:GID (\"$PUID:$PGID\") or /PATH")
	}
	rp, err := useradd.System.CheckRemap(useradd.Remap{Name: r.RemapUser, UID: uid, GID: gid, AllowDuplicateUID: r.AllowDupUID})
	if err != nil {
		return Chown{}, errs.Wrap("--remap-user", err)
	}
	if rp.Shares != "" {
		p.Notes = append(p.Notes, "--allow-duplicate-uid: uid "+u+" stays "+errs.Quote(rp.Shares)+
			"'s too; programs that look the uid up (whoami, ls -l) may show that name")
	}
	home := rp.Home
	if home == "" {
		home = "/"
	}
	groups, err := account.System.GroupsOf(r.RemapUser)
	if err != nil {
		return Chown{}, errs.Wrap("--remap-user", err)
	}
	p.Identity = spec.Identity{UID: uid, GID: gid, Groups: groups, Home: home, Name: r.RemapUser, Shell: rp.Shell}
	if !rp.Nothing() {
		p.RemapUser = rp
	}
	old := Chown{FromUID: int64(rp.OldUID), FromGID: int64(rp.OldGID)}
	if rp.OldGID == 0 {
		// An entry of group root (OpenShift's "useradd -g 0"): every gid-0
		// entry re-grouped would give root's own files (root:root 0640 in
		// the home or a --chown path) to the new gid. Only what the old uid
		// owns changes then, and gets both ids (chown --from=OLDUID).
		old.FromGID = -1
	}
	if rp.OldUID == uid && rp.OldGID == gid {
		return old, nil
	}
	// The home is looked at as --chown will walk it (package resolve), so
	// that a link in any part of it is a note here, not a failed start.
	fd, err := resolve.Open(home, r.FollowRootSymlinks)
	if err == nil {
		unix.Close(fd)
	}
	switch {
	case errors.Is(err, unix.ENOENT): // no home: nothing to re-own
	case home == "/" || err != nil:
		why := "is the root directory"
		if err != nil {
			why = "cannot be walked (" + err.Error() + ")"
		}
		p.Notes = append(p.Notes, "--remap-user: the home of "+name+", "+errs.Quote(home)+", "+why+", so it is not re-owned: give --chown=PATH for what should be")
	default:
		p.Chown = append(p.Chown, Chown{Path: home, FromUID: old.FromUID, FromGID: old.FromGID})
	}
	return old, nil
}

// rootGroupNote warns that --add-user and --chown give files to group root
// when the spec is a uid that has no entry and no group (issue 12.10): its
// gid is then the caller's, 0 as root (docker's rule).
func rootGroupNote(r Request, id spec.Identity, caller spec.Caller) string {
	what := "--add-user and --chown give"
	switch {
	case caller.UID != 0 || id.UID == 0 || id.Name != "" || id.ExplicitGroup || id.GID != 0 || r.RemapUser != "":
		return ""
	case !r.AddUser && len(r.Chown) == 0:
		return ""
	case !r.AddUser:
		what = "--chown gives"
	case len(r.Chown) == 0:
		what = "--add-user gives"
	}
	uid := strconv.FormatUint(uint64(id.UID), 10)
	return "uid " + uid + " has no passwd entry and no group was given, so the group is 0 (root), as in docker: " +
		what + " files to group root; give UID:GID (for example " + uid + ":" + uid + ") to choose the group"
}

// runSteps carries out the entrypoint steps, in order: the new account
// first (it creates the home directory), then the ownership fixes, then
// the remapped account last: its home is re-owned from the ids its entry
// still has, so a start stopped before the entry is written walks again
// from them, and one stopped after has nothing left to do.
func (p *Plan) runSteps(name string) error {
	if p.AddUser != nil {
		if err := useradd.System.Apply(p.AddUser); err != nil {
			return errs.Wrap("--add-user", err)
		}
	}
	progress := -1
	if tty.IsTerminal(2) {
		progress = 2
	}
	for _, c := range p.Chown {
		st, err := ownership.Fix(c.Path, ownership.Options{UID: p.Target.UID, GID: p.Target.GID,
			FromUID: c.FromUID, FromGID: c.FromGID, Progress: progress,
			FollowRootSymlinks: p.FollowRootSymlinks, RootDir: c.RootDir})
		if errors.Is(err, ownership.ErrRootDir) {
			err = errs.Explain(err.Error()+"; --allow-chown-root-dir allows it", err)
		}
		if err != nil {
			return errs.Wrap("--chown", err)
		}
		// What was left is said, entry by entry (the first 20), and the
		// command still runs: docs/ownership.md, "Entries the kernel refuses".
		if st.SkippedCount > 0 || st.MountCount > 0 {
			os.Stderr.WriteString(name + ": " + st.Summary() + "\n")
		}
		for _, s := range st.Skipped {
			os.Stderr.WriteString(name + ": skipped " + s + "\n")
		}
		if more := st.SkippedCount - uint64(len(st.Skipped)); more > 0 {
			os.Stderr.WriteString(name + ": skipped " + strconv.FormatUint(more, 10) + " more\n")
		}
	}
	if p.RemapUser != nil {
		if err := useradd.System.Apply(p.RemapUser); err != nil {
			return errs.Wrap("--remap-user", err)
		}
	}
	return nil
}
