package plan

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/ownership"
	"gosu/internal/resolve"
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
// --add-user asks for when the target has none, and makes the identity what
// it will be once they exist.
func (p *Plan) resolveUser(r Request) error {
	u, err := useradd.System.Check(useradd.Request{UID: p.Identity.UID, GID: p.Identity.GID, Name: r.AddUserName})
	if err != nil {
		return errs.Wrap("--add-user", err)
	}
	if u.Nothing() {
		return nil
	}
	p.AddUser = &u
	if p.Identity.Name == "" {
		p.Identity.Name, p.Identity.Home, p.Identity.Shell = u.Name, u.Home, u.Shell
	}
	return nil
}

// runSteps carries out the entrypoint steps, in order: the account first
// (it creates the home directory), then the ownership fixes.
func (p *Plan) runSteps(name string) error {
	if p.AddUser != nil {
		if err := useradd.System.Apply(*p.AddUser, p.Target.UID, p.Target.GID); err != nil {
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
	return nil
}
