package drop

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestSameSet(t *testing.T) {
	for _, c := range []struct {
		a, b []uint32
		want bool
	}{
		{nil, nil, true},
		{nil, []uint32{}, true},
		{[]uint32{1, 2}, []uint32{2, 1}, true},
		{[]uint32{1, 1, 2}, []uint32{2, 1}, true}, // a repeated gid grants nothing more
		{[]uint32{1}, []uint32{1, 2}, false},
		{[]uint32{1, 2}, []uint32{1}, false},
		{[]uint32{0}, nil, false},
		{[]uint32{4294967294}, []uint32{4294967294}, true},
	} {
		if got := sameSet(c.a, c.b); got != c.want {
			t.Errorf("sameSet(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestDiff(t *testing.T) {
	c := IDs{UID: [3]uint32{1000, 1000, 1000}, GID: [3]uint32{100, 100, 100}, Groups: []uint32{5, 6}}
	for _, tc := range []struct {
		t                Target
		groups, gid, uid bool
		is               bool
	}{
		{Target{UID: 1000, GID: 100, Groups: []uint32{6, 5}}, false, false, false, true},
		{Target{UID: 1000, GID: 100}, true, false, false, false},
		{Target{UID: 1000, GID: 101, Groups: []uint32{5, 6}}, false, true, false, false},
		{Target{UID: 0, GID: 100, Groups: []uint32{5, 6}}, false, false, true, false},
	} {
		g, gid, uid := c.diff(tc.t)
		if g != tc.groups || gid != tc.gid || uid != tc.uid || c.Is(tc.t) != tc.is {
			t.Errorf("diff(%+v) = %v %v %v, Is %v", tc.t, g, gid, uid, c.Is(tc.t))
		}
	}
	// Saved ids count: a saved uid of 0 is not the target's identity.
	c.UID[2] = 0
	if _, _, uid := c.diff(Target{UID: 1000, GID: 100, Groups: []uint32{5, 6}}); !uid {
		t.Error("a saved uid of 0 went unnoticed")
	}
}

func TestExplainMessages(t *testing.T) {
	if syscall.Geteuid() != 0 {
		err := explain("setuid", syscall.EPERM, Target{UID: 1})
		if !strings.HasPrefix(err.Error(), "setuid: not running as root (uid ") || !errors.Is(err, syscall.EPERM) {
			t.Errorf("as non-root: %q", err)
		}
		return
	}
	for _, c := range []struct {
		call string
		err  error
		t    Target
		want string
	}{
		{"setuid", syscall.EPERM, Target{}, "setuid: the process lacks CAP_SETUID (a container started without it?)"},
		{"setgid", syscall.EPERM, Target{}, "setgid: the process lacks CAP_SETGID (a container started without it?)"},
		{"setuid", syscall.EINVAL, Target{UID: 3000000000}, "setuid: uid 3000000000 is not mapped in this user namespace"},
		{"setgid", syscall.EINVAL, Target{GID: 7}, "setgid: gid 7 is not mapped in this user namespace"},
		{"setgroups", syscall.EINVAL, Target{Groups: make([]uint32, ngroupsMax+1)}, "setgroups: 65537 supplementary groups are more than the kernel's limit of 65536"},
		{"setgroups", syscall.EINVAL, Target{Groups: []uint32{5}}, "setgroups: a supplementary group is not mapped in this user namespace"},
		{"setgroups", syscall.ENOMEM, Target{}, "setgroups: cannot allocate memory"},
	} {
		err := explain(c.call, c.err, c.t)
		if err.Error() != c.want || !errors.Is(err, c.err) {
			t.Errorf("explain(%s, %v) = %q, want %q", c.call, c.err, err, c.want)
		}
	}
}

func TestCapErr(t *testing.T) {
	err := capErr(syscall.EPERM, "CAP_SETPCAP")
	if err.Error() != "operation not permitted (needs CAP_SETPCAP in the permitted set)" || !errors.Is(err, syscall.EPERM) {
		t.Errorf("capErr(EPERM) = %q", err)
	}
	if err := capErr(syscall.EINVAL, "x"); err != syscall.EINVAL {
		t.Errorf("capErr(EINVAL) = %v", err)
	}
}

func TestFormats(t *testing.T) {
	if got := triple([3]uint32{0, 1, 4294967294}); got != "0/1/4294967294" {
		t.Errorf("triple = %q", got)
	}
	if got := list([]uint32{3, 1}); got != "[3 1]" {
		t.Errorf("list = %q", got)
	}
	if got := list(nil); got != "[]" {
		t.Errorf("list(nil) = %q", got)
	}
	if utoa(255, 16) != "0xff" || utoa(255, 10) != "255" {
		t.Errorf("utoa = %q, %q", utoa(255, 16), utoa(255, 10))
	}
}

// TestCurrent: the raw calls read what the process is.
func TestCurrent(t *testing.T) {
	c, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if c.UID[0] != uint32(syscall.Getuid()) || c.UID[1] != uint32(syscall.Geteuid()) || c.GID[0] != uint32(syscall.Getgid()) {
		t.Errorf("Current = %+v; getuid %d, geteuid %d, getgid %d", c, syscall.Getuid(), syscall.Geteuid(), syscall.Getgid())
	}
	groups, err := syscall.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint32, len(groups))
	for i, g := range groups {
		want[i] = uint32(g)
	}
	if !sameSet(c.Groups, want) {
		t.Errorf("Current groups %v, getgroups %v", c.Groups, want)
	}
}

// TestPreflightSelf: asking for one's own identity never needs a
// capability, so preflight passes for anyone.
func TestPreflightSelf(t *testing.T) {
	c, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if err := Preflight(Target{UID: c.UID[0], GID: c.GID[0], Groups: c.Groups}); err != nil && c.UID == [3]uint32{c.UID[0], c.UID[0], c.UID[0]} && c.GID == [3]uint32{c.GID[0], c.GID[0], c.GID[0]} {
		t.Errorf("Preflight(self) = %v", err)
	}
}
