package supervise

import (
	"golang.org/x/sys/unix"

	"gosu/internal/caps"
	"gosu/internal/errs"
)

// lockDown leaves the calling thread what the supervisor needs to signal
// and reap a command running as another user, and nothing else: uid 0
// stays (as the target's uid, the command could ptrace the parent and use
// its terminal descriptors), and of the capabilities only CAP_KILL, in the
// permitted and effective sets (the inheritable and ambient ones empty),
// and no_new_privs. Capabilities and no_new_privs belong to a thread; this
// is the thread that execs the supervisor, and exec gives the new image's
// threads its credentials, no_new_privs making sure the exec (as uid 0)
// regains nothing beyond CAP_KILL.
//
// The bounding set is left as it is: it only limits what an exec can gain,
// and the supervisor execs nothing (and could gain nothing with
// no_new_privs).
func lockDown() error {
	have, err := caps.Get()
	if err != nil {
		return errs.Wrap("reading capabilities", err)
	}
	keep := have.Permitted & (1 << unix.CAP_KILL)
	if err := caps.Set(caps.Sets{Effective: keep, Permitted: keep}); err != nil {
		return errs.Wrap("keeping only CAP_KILL", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return errs.Wrap("setting no_new_privs", err)
	}
	return nil
}
