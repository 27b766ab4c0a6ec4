package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// inEtc runs script with sh in a private mount namespace where /etc is a
// writable copy of the fixture accounts (passwd, group, and an empty shadow)
// and /home an empty tmpfs, so that --add-user writes nothing of the
// machine's. It returns the result and the directory standing in for /etc.
func inEtc(t *testing.T, script string) (result, string) {
	t.Helper()
	unshare := needTool(t, "unshare", "util-linux")
	busybox := needTool(t, "busybox", "busybox-static")
	etc := publicDir(t)
	for _, f := range []string{"passwd", "group"} {
		copyFile(t, accounts+"/"+f, etc+"/"+f)
		if err := os.Chmod(etc+"/"+f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(etc+"/shadow", []byte("root:*:19000:0:99999:7:::\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// Static tools only: /etc is replaced, so ld.so's cache is gone.
	prelude := "set -e; mount -t tmpfs tmpfs /home; mount --bind " + etc + " /etc; B=" + busybox + "; G=" + bin + "/gosu; "
	return run(t, nil, unshare, "-m", "--propagation", "private", "sh", "-c", prelude+script), etc
}

// TestAddUser: --add-user gives an unknown uid a passwd entry, a group and
// a home, and gosu then runs as if they had been there; a restart writes
// nothing; an existing gid is reused; a taken name is refused.
func TestAddUser(t *testing.T) {
	needRoot(t)
	r, etc := inEtc(t, `
$G --add-user 4000:4000 $B sh -c 'echo whoami=$($B whoami); echo idun=$($B id -un); echo home=$HOME; echo uid=$($B id -u)'
$B stat -c 'homeowner=%u:%g' /home/user4000
$B md5sum /etc/passwd /etc/group /etc/shadow > /tmp/gosu-sums.$$
$G --add-user 4000:4000 $B true
$B md5sum -c -s /tmp/gosu-sums.$$ && echo restart=unchanged; rm -f /tmp/gosu-sums.$$
$G --add-user=dev 4001:100 $B sh -c 'echo dev=$($B whoami):$($B id -gn)'
`)
	if r.code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for k, v := range map[string]string{"whoami": "user4000", "idun": "user4000", "home": "/home/user4000", "uid": "4000",
		"homeowner": "4000:4000", "restart": "unchanged", "dev": "dev:users"} {
		if r.probe[k] != v {
			t.Errorf("%s = %q, want %q (stdout %q, stderr %q)", k, r.probe[k], v, r.stdout, r.stderr)
		}
	}
	passwd, _ := os.ReadFile(etc + "/passwd")
	group, _ := os.ReadFile(etc + "/group")
	if !strings.Contains(string(passwd), "\nuser4000:x:4000:4000::/home/user4000:/bin/sh\n") || !strings.Contains(string(group), "\nuser4000:x:4000:\n") ||
		strings.Contains(string(group), "dev:") || strings.Count(string(passwd), "\nuser4000:") != 1 {
		t.Errorf("files after --add-user:\n%s\n%s", passwd, group)
	}

	// A name that belongs to another uid: refused, nothing written.
	r, etc = inEtc(t, `$G --add-user=app 4002:4002 $B true`)
	after, _ := os.ReadFile(etc + "/passwd")
	before, _ := os.ReadFile(accounts + "/passwd")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "error: failed switching to '4002:4002': --add-user: ") || !strings.Contains(r.stderr, "uid 1000") ||
		string(after) != string(before) {
		t.Errorf("taken name: exit %d, stderr %q, passwd changed: %v", r.code, r.stderr, string(after) != string(before))
	}

	// --explain says what it would write, and writes nothing.
	r, etc = inEtc(t, `$G --explain --add-user 4003:4003 id`)
	after, _ = os.ReadFile(etc + "/passwd")
	if r.code != 0 || !strings.Contains(r.stdout, "add user:") || !strings.Contains(r.stdout, "user4003:x:4003:4003::/home/user4003:/bin/sh") ||
		!strings.Contains(r.stdout, "user:          uid 4003 (user4003)") || string(after) != string(before) {
		t.Errorf("--explain --add-user: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestOwnerSpec: "/PATH" as the user spec runs as the uid and gid owning
// PATH, and refuses root as the owner unless --allow-root-owner; with
// --add-user it is the one-line dev-container entrypoint.
func TestOwnerSpec(t *testing.T) {
	needRoot(t)
	dir := publicDir(t)
	mine := dir + "/app"
	if err := os.Mkdir(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mine, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	gosu(t, mine, bin+"/probe").expect(t, "owner 1000:1000", map[string]string{
		"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "", "env.HOME": "/home/app"})
	r := gosu(t, dir+"/none", "id")
	if r.code != 1 || r.stderr != "error: failed switching to '"+dir+"/none': owner of \""+dir+"/none\": no such file or directory\n" {
		t.Errorf("missing path: exit %d, stderr %q", r.code, r.stderr)
	}
	rootOwned := dir + "/root"
	if err := os.Mkdir(rootOwned, 0o755); err != nil {
		t.Fatal(err)
	}
	r = gosu(t, rootOwned, "id")
	if want := "error: failed switching to '" + rootOwned + "': \"" + rootOwned + "\" is owned by root; refusing to run \"id\" as its owner, root (is the volume mounted?); --allow-root-owner allows it\n"; r.code != 1 || r.stderr != want {
		t.Errorf("root-owned path: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	gosu(t, "--allow-root-owner", rootOwned, bin+"/probe").expect(t, "--allow-root-owner", map[string]string{"Uid": "0 0 0 0"})

	// The dev container: a project directory owned by a host uid the image
	// does not know.
	work := publicDir(t)
	if err := os.Chown(work, 4005, 4005); err != nil {
		t.Fatal(err)
	}
	r, _ = inEtc(t, "$G --add-user "+work+" $B sh -c 'echo who=$($B whoami); echo uid=$($B id -u):$($B id -g)'")
	if r.code != 0 || r.probe["who"] != "user4005" || r.probe["uid"] != "4005:4005" {
		t.Errorf("--add-user /PATH: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestContainerEntrypointSteps: in runc, --chown gives a bind-mounted
// volume to the user without following a symlink out of it, and
// --add-user makes an unknown uid a user whoami knows.
func TestContainerEntrypointSteps(t *testing.T) {
	c := newContainer(t)
	vol := publicDir(t)
	outside := publicDir(t) + "/secret"
	if err := os.WriteFile(outside, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "a/b"} {
		if err := os.Mkdir(filepath.Join(vol, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(vol, "a/b/file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(vol, "a/link")); err != nil {
		t.Fatal(err)
	}
	c.edit(t, func(cfg map[string]any) {
		cfg["mounts"] = append(cfg["mounts"].([]any), map[string]any{
			"destination": "/data", "type": "bind", "source": vol, "options": []any{"rbind", "rw"}})
		cfg["root"].(map[string]any)["readonly"] = false
	})
	r := c.probe(t, "gosu", "--chown=/data", "app", "probe")
	r.expect(t, "--chown=/data", map[string]string{"pid": "1", "Uid": "1000 1000 1000 1000"})
	for _, p := range []string{"", "a", "a/b", "a/b/file", "a/link"} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(vol, p), &st); err != nil || st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("%s after --chown: owner %d:%d, %v; want 1000:1000", p, st.Uid, st.Gid, err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(outside, &st); err != nil || st.Uid != 0 {
		t.Errorf("the symlink's target outside the volume: owner %d, %v; want root", st.Uid, err)
	}

	r = c.probe(t, "gosu", "--add-user", "4242:4242", "sh", "-c", "echo who=$(whoami); echo home=$HOME; echo homeowner=$(stat -c %u:%g $HOME)")
	if r.code != 0 || r.probe["who"] != "user4242" || r.probe["home"] != "/home/user4242" || r.probe["homeowner"] != "4242:4242" {
		t.Errorf("--add-user in runc: exit %d, stdout %q", r.code, r.stdout)
	}
}
