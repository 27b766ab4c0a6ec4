// Package environ computes the command's environment: the caller's, with
// HOME (and, on request, USER, LOGNAME and SHELL) from the target.
package environ

import (
	"strconv"
	"strings"

	"gosu/internal/spec"
)

// Options say which variables, beyond HOME, come from the target.
type Options struct {
	// Login sets USER, LOGNAME and SHELL from the target's passwd entry, as
	// login(1) and su do. For a uid without an entry USER and LOGNAME are
	// the number and SHELL is left alone: never root's values.
	Login bool
	// KeepHome keeps the caller's HOME instead of the target's.
	KeepHome bool
}

// Change is one variable the command sees differently from the caller.
type Change struct {
	Name, Value string
}

// Changes lists the variables to set for id, in a fixed order.
func Changes(id spec.Identity, o Options) []Change {
	var c []Change
	if !o.KeepHome {
		c = append(c, Change{"HOME", id.Home})
	}
	if o.Login {
		name := id.Name
		if name == "" {
			name = strconv.FormatUint(uint64(id.UID), 10)
		}
		c = append(c, Change{"USER", name}, Change{"LOGNAME", name})
		if id.Name != "" {
			shell := id.Shell
			if shell == "" {
				shell = "/bin/sh" // an empty shell field means /bin/sh, as login(1) reads it
			}
			c = append(c, Change{"SHELL", shell})
		}
	}
	return c
}

// Apply returns env with the changes made: every earlier definition of a
// changed variable is removed and the new one appended.
func Apply(env []string, changes []Change) []string {
	out := make([]string, 0, len(env)+len(changes))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !changed(changes, name) {
			out = append(out, kv)
		}
	}
	for _, c := range changes {
		out = append(out, c.Name+"="+c.Value)
	}
	return out
}

func changed(changes []Change, name string) bool {
	for _, c := range changes {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Get returns the first value of name in env, as getenv(3) does.
func Get(env []string, name string) (string, bool) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}
