package plan

import (
	"errors"
	"strconv"
	"strings"
	"syscall"

	"gosu/internal/account"
	"gosu/internal/errs"
)

// ResolvedOption is the option that carries a resolved plan to the fresh
// gosu a supervising parent starts.
const ResolvedOption = "resolved"

// childFields is everything of a plan that crosses to the fresh gosu, one
// entry per field, in the order of the form: Child writes and
// parseChild reads each field through the same entry, so the two cannot
// disagree, and a test fills every field of drop.Target to prove that none
// is left out. (drop.Target.Parent does not cross: it is the child's own
// parent, the supervising one.)
var childFields = [...]struct {
	key string
	at  func(p *Plan) any // a pointer to the field
}{
	{"uid", func(p *Plan) any { return &p.Target.UID }},
	{"gid", func(p *Plan) any { return &p.Target.GID }},
	{"groups", func(p *Plan) any { return &p.Target.Groups }},
	{"caps", func(p *Plan) any { return &p.Target.KeepCaps }},
	{"bounding", func(p *Plan) any { return &p.Target.LimitBounding }},
	{"nnp", func(p *Plan) any { return &p.Target.NoNewPrivs }},
	{"pdeathsig", func(p *Plan) any { return &p.Target.ParentDeathSignal }},
	{"closefds", func(p *Plan) any { return &p.CloseFDs }},
	{"keepfds", func(p *Plan) any { return &p.KeepFDs }},
	{"unsafecaps", func(p *Plan) any { return &p.AllowUnsafeCaps }},
	{"landlock", func(p *Plan) any { return &p.Landlock.ABI }},
	{"lwrite", func(p *Plan) any { return &p.Landlock.Write }},
	{"lread", func(p *Plan) any { return &p.Landlock.Read }},
}

// Child returns the argv of the fresh gosu that switches and execs for a
// supervising parent: self (argv[0] as gosu was started), the plan in
// numeric form, and the command. Its environment is p.Environ, already
// final.
//
// The form is every entry of childFields as KEY=VALUE, in order, separated
// by ';': numbers in decimal, lists comma-separated, booleans true or false.
func (p *Plan) Child(self string) []string {
	b := []byte("--" + ResolvedOption + "=")
	for i, f := range childFields {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, f.key...)
		b = append(b, '=')
		switch v := f.at(p).(type) {
		case *uint32:
			b = strconv.AppendUint(b, uint64(*v), 10)
		case *uint64:
			b = strconv.AppendUint(b, *v, 10)
		case *int:
			b = strconv.AppendInt(b, int64(*v), 10)
		case *syscall.Signal:
			b = strconv.AppendUint(b, uint64(*v), 10)
		case *bool:
			b = strconv.AppendBool(b, *v)
		case *[]uint32:
			for j, n := range *v {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(b, uint64(n), 10)
			}
		case *[]int:
			for j, n := range *v {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(n), 10)
			}
		}
	}
	return append([]string{self, string(b), "--"}, p.Command...)
}

// FromResolved reads the numeric form Child writes, and checks the
// capabilities it carries against this process as --keep-caps would. parent
// is this process's parent when it started (the supervising parent), for
// the parent-death signal. The environment is taken as it is.
func FromResolved(form string, command []string, env []string, parent int) (Plan, error) {
	p, err := parseChild(form, command, env, parent)
	if err != nil {
		return Plan{}, err
	}
	// The same capability rules as for the command line, so that the
	// numeric form cannot carry what --keep-caps would refuse; the warning
	// was the parent's to give.
	if err := p.resolveCaps(); err != nil {
		return Plan{}, err
	}
	// The descriptors must be what the parent opened: O_PATH, above 2.
	if !p.Landlock.Check() {
		return Plan{}, errors.New("--" + ResolvedOption + ": landlock rules gosu did not make (this option is for gosu's own use)")
	}
	p.Notes = nil
	return p, nil
}

// parseChild reads the form without looking at the process.
func parseChild(form string, command []string, env []string, parent int) (Plan, error) {
	bad := func(why string) (Plan, error) {
		return Plan{}, errors.New("--" + ResolvedOption + ": " + why + " (this option is for gosu's own use)")
	}
	if len(command) == 0 {
		return bad("no command")
	}
	p := Plan{Command: command, Environ: env, Caller: env, TTY: Shared}
	p.Target.Parent = parent
	rest := form
	for i, f := range childFields {
		var field string
		var more bool
		field, rest, more = strings.Cut(rest, ";")
		v, ok := strings.CutPrefix(field, f.key+"=")
		if !ok || more != (i < len(childFields)-1) {
			return bad("field " + strconv.Itoa(i+1) + " must be " + f.key + "= in " + errs.Quote(form))
		}
		if !parseValue(f.at(&p), v) {
			return bad("malformed " + f.key + " " + errs.Quote(v))
		}
	}
	if len(p.KeepFDs) > 0 && !p.CloseFDs {
		return bad("fds to keep without closing")
	}
	p.Spec = strconv.FormatUint(uint64(p.Target.UID), 10) + ":" + strconv.FormatUint(uint64(p.Target.GID), 10)
	return p, nil
}

// parseValue reads v into the field at ptr, with the same limits as the
// command line: ids up to account.MaxID, signals 1 to 64 (or 0 for none),
// descriptors as non-negative ints.
func parseValue(ptr any, v string) bool {
	switch ptr := ptr.(type) {
	case *uint32:
		n, err := account.ParseID(v)
		*ptr = n
		return err == nil
	case *uint64:
		n, err := strconv.ParseUint(v, 10, 64)
		*ptr = n
		return err == nil
	case *int:
		n, err := strconv.ParseUint(v, 10, 31)
		*ptr = int(n)
		return err == nil
	case *syscall.Signal:
		n, err := strconv.ParseUint(v, 10, 7)
		*ptr = syscall.Signal(n)
		return err == nil && n <= 64
	case *bool:
		b, err := strconv.ParseBool(v)
		*ptr = b
		return err == nil && (v == "true" || v == "false")
	case *[]uint32:
		for s := range listItems(v) {
			n, err := account.ParseID(s)
			if err != nil {
				return false
			}
			*ptr = append(*ptr, n)
		}
	case *[]int:
		for s := range listItems(v) {
			n, err := strconv.ParseUint(s, 10, 31)
			if err != nil {
				return false
			}
			*ptr = append(*ptr, int(n))
		}
	default:
		return false
	}
	return true
}

// listItems yields the comma-separated items of v; none for "".
func listItems(v string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for more := v != ""; more; {
			var s string
			s, v, more = strings.Cut(v, ",")
			if !yield(s) {
				return
			}
		}
	}
}
