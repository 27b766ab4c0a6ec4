package plan

import "gosu/internal/landlock"

// resolveLandlock opens the paths of --landlock-write and --landlock-read
// and makes the rules. Landlock needs no_new_privs from a thread without
// CAP_SYS_ADMIN, which the thread lacks once it switched to a non-root
// user; gosu sets it for every user, root included, so that the options do
// the same whoever the user is.
func (p *Plan) resolveLandlock(r landlock.Request) (err error) {
	var warning string
	p.Landlock, warning, err = landlock.Open(r)
	if warning != "" {
		p.Notes = append(p.Notes, warning)
	}
	p.Target.NoNewPrivs = p.Target.NoNewPrivs || len(p.Landlock.Paths()) > 0
	return err
}
