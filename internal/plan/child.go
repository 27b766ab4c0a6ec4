package plan

import (
	"errors"
	"strconv"
	"strings"
	"syscall"

	"gosu/internal/account"
	"gosu/internal/drop"
	"gosu/internal/errs"
)

// ResolvedOption is the option that carries a resolved plan to the fresh
// gosu a supervising parent starts.
const ResolvedOption = "resolved"

// Flags of the numeric form.
const (
	flagBounding = 'b'
	flagNoNew    = 'n'
	flagCloseFDs = 'c'
	flagUnsafe   = 'u'
)

// Child returns the argv of the fresh gosu that switches and execs for a
// supervising parent: self (argv[0] as gosu was started), the plan in
// numeric form, and the command. Its environment is p.Environ, already
// final.
//
// The form is UID:GID:GROUPS:CAPS:FLAGS:PDEATHSIG:KEEPFDS, with GROUPS and
// KEEPFDS comma-separated, CAPS a hexadecimal mask and FLAGS letters of
// "bncu" (--drop-bounding, --no-new-privs, --close-fds,
// --allow-unsafe-caps).
func (p *Plan) Child(self string) []string {
	t := p.Target
	b := []byte("--" + ResolvedOption + "=")
	b = appendList(b, []uint32{t.UID}, ':')
	b = appendList(b, []uint32{t.GID}, ':')
	b = appendList(b, t.Groups, ':')
	b = strconv.AppendUint(b, t.KeepCaps, 16)
	b = append(b, ':')
	if t.LimitBounding {
		b = append(b, flagBounding)
	}
	if t.NoNewPrivs {
		b = append(b, flagNoNew)
	}
	if p.CloseFDs {
		b = append(b, flagCloseFDs)
	}
	if p.AllowUnsafeCaps {
		b = append(b, flagUnsafe)
	}
	b = append(b, ':')
	b = appendList(b, []uint32{uint32(t.ParentDeathSignal)}, ':')
	fds := make([]uint32, len(p.KeepFDs))
	for i, fd := range p.KeepFDs {
		fds[i] = uint32(fd)
	}
	b = appendList(b, fds, 0)
	return append([]string{self, string(b), "--"}, p.Command...)
}

// appendList appends the numbers comma-separated, then end (unless 0).
func appendList(b []byte, list []uint32, end byte) []byte {
	for i, n := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	if end != 0 {
		b = append(b, end)
	}
	return b
}

// numbers reads a comma-separated list of numbers of at most max, with at
// least min of them.
func numbers(field string, min int, max uint32) ([]uint32, bool) {
	var out []uint32
	if field != "" {
		for s := range strings.SplitSeq(field, ",") {
			n, err := account.ParseID(s)
			if err != nil || n > max {
				return nil, false
			}
			out = append(out, n)
		}
	}
	return out, len(out) >= min
}

// FromResolved reads the numeric form Child writes. parent is this
// process's parent when it started (the supervising parent), for the
// parent-death signal. The environment is taken as it is.
func FromResolved(form string, command []string, env []string, parent int) (Plan, error) {
	bad := func(why string) (Plan, error) {
		return Plan{}, errors.New("--" + ResolvedOption + ": " + why + " (this option is for gosu's own use)")
	}
	var f [7]string
	rest, ok := form, true
	for i := range f {
		if !ok {
			return bad("7 fields expected")
		}
		f[i], rest, ok = strings.Cut(rest, ":")
	}
	if ok {
		return bad("7 fields expected")
	}
	if len(command) == 0 {
		return bad("no command")
	}
	uid, ok1 := numbers(f[0], 1, account.MaxID)
	gid, ok2 := numbers(f[1], 1, account.MaxID)
	groups, ok3 := numbers(f[2], 0, account.MaxID)
	sig, ok4 := numbers(f[5], 1, 64)
	fds, ok5 := numbers(f[6], 0, 1<<31-1)
	keep, err := strconv.ParseUint(f[3], 16, 64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || len(uid) != 1 || len(gid) != 1 || len(sig) != 1 || err != nil {
		return bad("malformed " + errs.Quote(form))
	}
	p := Plan{Spec: f[0] + ":" + f[1], Command: command, Environ: env, Caller: env, TTY: Shared, Resolved: true,
		Target: drop.Target{UID: uid[0], GID: gid[0], Groups: groups, KeepCaps: keep, ParentDeathSignal: syscall.Signal(sig[0]), Parent: parent}}
	for _, fd := range fds {
		p.KeepFDs = append(p.KeepFDs, int(fd))
	}
	for _, c := range []byte(f[4]) {
		switch c {
		case flagBounding:
			p.Target.LimitBounding = true
		case flagNoNew:
			p.Target.NoNewPrivs = true
		case flagCloseFDs:
			p.CloseFDs = true
		case flagUnsafe:
			p.AllowUnsafeCaps = true
		default:
			return bad("unknown flag " + errs.Quote(string(c)))
		}
	}
	if len(fds) > 0 && !p.CloseFDs {
		return bad("fds to keep without closing")
	}
	// The same capability rules as for the command line, so that the
	// numeric form cannot carry what --keep-caps would refuse; the warning
	// was the parent's to give.
	if err := p.resolveCaps(); err != nil {
		return Plan{}, err
	}
	p.Notes = nil
	return p, nil
}
