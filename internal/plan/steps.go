package plan

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
	"gosu/internal/ownership"
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
}

// ownerOf resolves the spec form "/PATH": the uid and gid that own PATH
// (following a symbolic link given as PATH, as stat(1) does), as "UID:GID".
// Root as the owner is refused unless allowed: a volume that failed to mount
// leaves a root-owned directory, which would otherwise run everything as
// root.
func ownerOf(path string, allowRoot bool) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", errs.Wrap("owner of "+errs.Quote(path), err)
	}
	if st.Uid == 0 && !allowRoot {
		return "", errors.New(path + " is owned by root; refusing to run COMMAND as its owner, root (is the volume mounted?); --allow-root-owner allows it")
	}
	return strconv.FormatUint(uint64(st.Uid), 10) + ":" + strconv.FormatUint(uint64(st.Gid), 10), nil
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
			FromUID: c.FromUID, FromGID: c.FromGID, Progress: progress})
		if err != nil {
			return errs.Wrap("--chown", err)
		}
		if st.SkippedCount > 0 || st.MountCount > 0 {
			os.Stderr.WriteString(name + ": " + st.Summary() + "\n")
		}
	}
	return nil
}
