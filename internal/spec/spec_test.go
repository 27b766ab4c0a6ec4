package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gosu/internal/account"
)

// Upstream's acceptance fixture: nobody is a member of every group, games a
// member of users.
const passwd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
games:x:5:60:games:/usr/games:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
4242:x:4243:4243:named with digits:/home/4242:/bin/sh
nohome:x:2000:2000:::/bin/sh
high:x:3000000000:3000000001::/home/high:/bin/sh
bad:x:oops:0::/root:/bin/sh
`

const group = `root:x:0:nobody
daemon:x:1:nobody
users:x:100:games,nobody
games:x:60:nobody
nogroup:x:65534:nobody
high:x:3000000001:high
extra:x:3000000002:high
`

func db(t *testing.T) account.DB {
	t.Helper()
	dir := t.TempDir()
	d := account.DB{Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group")}
	if err := os.WriteFile(d.Passwd, []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Group, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestResolve(t *testing.T) {
	root := Caller{0, 0}
	games := Identity{UID: 5, GID: 60, Groups: []uint32{100}, Home: "/usr/games", Name: "games", Shell: "/usr/sbin/nologin"}
	rootID := Identity{UID: 0, GID: 0, Home: "/root", Name: "root", Shell: "/bin/bash"}
	bare := func(uid, gid uint32, home string) Identity {
		id := rootID
		id.UID, id.GID, id.Home = uid, gid, home
		if home == "/" {
			id.Name, id.Shell = "", ""
		}
		return id
	}
	for _, tc := range []struct {
		spec   string
		caller Caller
		want   Identity
	}{
		// Upstream's acceptance cases.
		{"0", root, rootID},
		{"root", root, rootID},
		{"0:0", root, rootID},
		{"0:root", root, rootID},
		{"root:0", root, rootID},
		{"root:root", root, rootID},
		{"1000", root, bare(1000, 0, "/")},
		{"0:1000", root, bare(0, 1000, "/root")},
		{"1000:1000", root, bare(1000, 1000, "/")},
		{"root:1000", root, bare(0, 1000, "/root")},
		{"1000:root", root, bare(1000, 0, "/")},
		{"1000:daemon", root, bare(1000, 1, "/")},
		{"games", root, games},
		{"games:daemon", root, Identity{UID: 5, GID: 1, Home: "/usr/games", Name: "games", Shell: "/usr/sbin/nologin"}},
		{"0:", root, rootID},
		{"", root, rootID},
		{":", root, rootID},
		{":0", root, rootID},
		{":daemon", root, bare(0, 1, "/root")},
		// Rows of SPEC section 3 beyond upstream's cases.
		{"nobody", root, Identity{UID: 65534, GID: 65534, Groups: []uint32{0, 1, 100, 60, 65534}, Home: "/nonexistent", Name: "nobody", Shell: "/usr/sbin/nologin"}},
		{"65534", root, Identity{UID: 65534, GID: 65534, Groups: []uint32{0, 1, 100, 60, 65534}, Home: "/nonexistent", Name: "nobody", Shell: "/usr/sbin/nologin"}},
		{"games:", root, games},
		{"5:", root, games},
		{"1000", Caller{77, 88}, bare(1000, 88, "/")}, // no entry: the caller's gid
		{"", Caller{5, 99}, games},                    // empty: the caller's own entry
		{"", Caller{1234, 99}, bare(1234, 99, "/")},   // ... or the caller's ids
		{":games", Caller{5, 99}, Identity{UID: 5, GID: 60, Home: "/usr/games", Name: "games", Shell: "/usr/sbin/nologin"}},
		{":7", Caller{1234, 99}, bare(1234, 7, "/")},
		{"00005", root, games}, // leading zeros
		{"4243", root, Identity{UID: 4243, GID: 4243, Home: "/home/4242", Name: "4242", Shell: "/bin/sh"}},
		{"4242", root, bare(4242, 0, "/")}, // digits are an id, never the user named "4242"
		{"nohome", root, Identity{UID: 2000, GID: 2000, Home: "/", Name: "nohome", Shell: "/bin/sh"}},
		{"high", root, Identity{UID: 3000000000, GID: 3000000001, Groups: []uint32{3000000001, 3000000002}, Home: "/home/high", Name: "high", Shell: "/bin/sh"}},
		{"4294967294:4294967294", root, bare(4294967294, 4294967294, "/")},
		{"3000000000:users", root, Identity{UID: 3000000000, GID: 100, Home: "/home/high", Name: "high", Shell: "/bin/sh"}},
	} {
		got, err := Resolve(tc.spec, tc.caller, db(t))
		if err != nil {
			t.Errorf("Resolve(%q) error: %v", tc.spec, err)
			continue
		}
		if got.UID != tc.want.UID || got.GID != tc.want.GID || !slices.Equal(got.Groups, tc.want.Groups) ||
			got.Home != tc.want.Home || got.Name != tc.want.Name || got.Shell != tc.want.Shell {
			t.Errorf("Resolve(%q) by %v =\n  %+v\nwant\n  %+v", tc.spec, tc.caller, got, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	d := db(t)
	for spec, want := range map[string]string{
		"bogus":        "unable to find user bogus: no matching entries in passwd file",
		"0day":         "unable to find user 0day: no matching entries in passwd file",
		"0:bogus":      "unable to find group bogus: no matching entries in group file",
		"0:0day":       "unable to find group 0day: no matching entries in group file",
		"Root":         "unable to find user Root: no matching entries in passwd file",
		"bad":          "unable to find user bad: no matching entries in passwd file (" + d.Passwd + ":8 has that name but is malformed and ignored: uid \"oops\" is not a decimal number in 0-4294967294)",
		"oops":         "unable to find user oops: no matching entries in passwd file",
		"4294967295":   "uids and gids must be in range 0-4294967294",
		"0:4294967295": "uids and gids must be in range 0-4294967294",
		"4294967296":   "uids and gids must be in range 0-4294967294",
		"-1":           "uids and gids must be in range 0-4294967294",
		"+0":           "uids and gids must be in range 0-4294967294",
		"0:-1":         "uids and gids must be in range 0-4294967294",
		"0:0:0":        "a user spec has at most one ':' (user:group)",
		"root: root":   "unable to find group  root: no matching entries in group file",
	} {
		got, err := Resolve(spec, Caller{0, 0}, d)
		if err == nil || err.Error() != want {
			t.Errorf("Resolve(%q) = %+v, %v; want error %q", spec, got, err, want)
		}
	}
}

func TestResolveNeverRootFromMalformed(t *testing.T) {
	// Upstream turns each of these lines into uid 0 for "gosu app".
	for _, line := range []string{
		"app:x:notanumber:1000::/home/app:/bin/sh",
		"app:x::1000::/home/app:/bin/sh",
		"app:x:1000:::",
		"app",
		"app:x:1000:oops::/:/bin/sh",
		"app:x:-0:0::/:/bin/sh",
	} {
		dir := t.TempDir()
		d := account.DB{Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group")}
		if err := os.WriteFile(d.Passwd, []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if id, err := Resolve("app", Caller{0, 0}, d); err == nil {
			t.Errorf("passwd line %q: Resolve(app) = %+v, want an error", line, id)
		}
	}
}
