package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// setpriv runs argv through setpriv(1) with the given options first: the
// way a test gives gosu's caller extra groups, another uid or fewer
// capabilities.
func setpriv(t *testing.T, opts []string, argv ...string) []string {
	t.Helper()
	return append(append([]string{needTool(t, "setpriv", "util-linux")}, opts...), argv...)
}

// TestKeepCapsRefusesRoot: every capability that leads back to root or to
// root's files is refused by --keep-caps unless --allow-unsafe-caps is given,
// which keeps it with a warning; CAP_SETUID is refused always.
func TestKeepCapsRefusesRoot(t *testing.T) {
	needRoot(t)
	for _, c := range []string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "setgid", "setpcap",
		"linux_immutable", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_admin", "sys_boot",
		"mknod", "setfcap", "mac_override", "mac_admin", "perfmon", "bpf", "checkpoint_restore"} {
		r := gosu(t, "--keep-caps=net_bind_service", "--keep-caps="+c, "app", bin+"/probe")
		want := "error: failed switching to 'app': --keep-caps: CAP_" + strings.ToUpper(c) + " would let COMMAND back to root or root's files (it can "
		if r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.HasSuffix(r.stderr, "); refused unless --allow-unsafe-caps is given\n") || r.stdout != "" {
			t.Errorf("--keep-caps=%s: exit %d, stderr %q, stdout %q; want exit 1 and %q...", c, r.code, r.stderr, r.stdout, want)
		}
	}
	// The override: kept, with a warning, and the repeated option adds up.
	r := gosu(t, "--allow-unsafe-caps", "--keep-caps=fowner", "--keep-caps=net_bind_service", "app", bin+"/probe")
	r.expect(t, "--allow-unsafe-caps", map[string]string{"Uid": "1000 1000 1000 1000", "CapAmb": "0000000000000408", "CapEff": "0000000000000408"})
	if r.stderr != "gosu: warning: --allow-unsafe-caps: COMMAND keeps CAP_FOWNER, which can lead back to root\n" {
		t.Errorf("--allow-unsafe-caps: stderr %q", r.stderr)
	}
	if r := gosu(t, "--allow-unsafe-caps", "--keep-caps=setuid", "app", "id"); r.code != 1 || !strings.Contains(r.stderr, "CAP_SETUID cannot be kept") {
		t.Errorf("--keep-caps=setuid with the override: exit %d, stderr %q", r.code, r.stderr)
	}
	// A capability the bounding set lacks is named as such.
	argv := withAccounts(setpriv(t, []string{"--bounding-set=-net_raw"}, bin+"/gosu", "--keep-caps=net_raw", "app", "id")...)
	if r := run(t, nil, argv...); r.code != 1 || r.stderr != "error: failed switching to 'app': --keep-caps: CAP_NET_RAW is not in the bounding set, so no process here can have it (was the container started without it?)\n" {
		t.Errorf("cap outside the bounding set: exit %d, stderr %q", r.code, r.stderr)
	}
}

// rootGroups writes fixture accounts in which root is a member of groups 6
// and 10, as on Alpine, and returns the withaccounts prefix for them.
func rootGroups(t *testing.T) []string {
	t.Helper()
	dir := publicDir(t)
	passwd, err := os.ReadFile(accounts + "/passwd")
	if err != nil {
		t.Fatal(err)
	}
	group := "root:x:0:root\ndisk:x:6:root,adm\nwheel:x:10:root\nusers:x:100:nobody\nruntime:x:3000:\n"
	if err := os.WriteFile(dir+"/passwd", passwd, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/group", []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{bin + "/withaccounts", dir + "/passwd", dir + "/group"}
}

// TestKeepGroupsNotRoots: --keep-groups keeps what the runtime added, never
// gid 0 or a group that lists root; --add-groups always wins.
func TestKeepGroupsNotRoots(t *testing.T) {
	needRoot(t)
	wa := rootGroups(t)
	caller := []string{"--groups=0,6,10,3000,4000"}
	argv := append(wa, setpriv(t, caller, bin+"/gosu", "--keep-groups", "nobody", bin+"/probe")...)
	run(t, nil, argv...).expect(t, "--keep-groups", map[string]string{"Uid": "65534 65534 65534 65534", "Groups": "100 3000 4000"})
	argv = append(wa, setpriv(t, caller, bin+"/gosu", "--keep-groups", "--add-groups=disk", "nobody", bin+"/probe")...)
	run(t, nil, argv...).expect(t, "--keep-groups --add-groups=disk", map[string]string{"Groups": "6 100 3000 4000"})
}

// TestFileCapabilityCopyRefused: a copy of gosu given file capabilities is
// refused like a setuid copy (AT_SECURE), while a caller that only has
// ambient capabilities still runs gosu.
func TestFileCapabilityCopyRefused(t *testing.T) {
	needRoot(t)
	setcap := needTool(t, "setcap", "libcap2-bin")
	dir := publicDir(t)
	copyFile(t, bin+"/gosu", dir+"/gosu")
	if out, err := runOut(setcap, "cap_setuid,cap_setgid+ep", dir+"/gosu"); err != nil {
		t.Fatalf("setcap: %v\n%s", err, out)
	}
	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	r := run(t, nil, setpriv(t, nobody, dir+"/gosu", "root", "id")...)
	want := "error: " + dir + "/gosu appears to be installed with file capabilities (the kernel started it in secure mode, AT_SECURE), which is an extremely insecure and completely unsupported configuration! (what you want instead is likely 'sudo' or 'su')\n"
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("file-capability copy as nobody: exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
	}
	// Ambient capabilities alone leave AT_SECURE clear.
	amb := append(nobody, "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service")
	r = run(t, nil, setpriv(t, amb, bin+"/gosu", "--keep-caps=net_bind_service", "65534:65534", bin+"/probe")...)
	r.expect(t, "ambient caller", map[string]string{"Uid": "65534 65534 65534 65534", "CapAmb": netBindService})
}

// TestNonRootKeepsGroupsItCannotDrop: a non-root caller already running as
// the target's uid and gid, with extra groups (Kubernetes fsGroup, docker
// --group-add), runs the command with them.
func TestNonRootKeepsGroupsItCannotDrop(t *testing.T) {
	needRoot(t)
	caller := []string{"--reuid=1000", "--regid=1000", "--groups=3000"}
	for _, spec := range []string{"1000:1000", "app", "", "1000", ":1000"} {
		r := run(t, nil, withAccounts(setpriv(t, caller, bin+"/gosu", spec, bin+"/probe")...)...)
		r.expect(t, "non-root "+spec, map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "3000"})
	}
	// A real switch still needs root, and says so.
	r := run(t, nil, withAccounts(setpriv(t, caller, bin+"/gosu", "nobody", "id")...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "not running as root") {
		t.Errorf("non-root switch: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestExecThreadOnly: the command's own view, read by a single-threaded
// command: exactly the target's ids and groups, every capability set as
// asked, one thread.
func TestExecThreadOnly(t *testing.T) {
	needRoot(t)
	status := func(r result) map[string]string {
		m := map[string]string{}
		for line := range strings.SplitSeq(r.stdout, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				m[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		return m
	}
	bounding := ownStatus(t, "CapBnd")
	for _, tc := range []struct {
		opts []string
		spec string
		want map[string]string
	}{
		{nil, "app", map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "50 100",
			"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "CapBnd": bounding, "Threads": "1", "NoNewPrivs": "0"}},
		{[]string{"--keep-caps=net_bind_service", "--drop-bounding", "--no-new-privs"}, "high", map[string]string{
			"Uid": "3000000000 3000000000 3000000000 3000000000", "Gid": "3000000001 3000000001 3000000001 3000000001",
			"Groups": "50 3000000002", "CapInh": netBindService, "CapPrm": netBindService, "CapEff": netBindService,
			"CapAmb": netBindService, "CapBnd": netBindService, "Threads": "1", "NoNewPrivs": "1"}},
	} {
		r := gosu(t, append(tc.opts, tc.spec, "cat", "/proc/self/status")...)
		got := status(r)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("gosu %v %s: %s = %q, want %q (exit %d, stderr %q)", tc.opts, tc.spec, k, got[k], v, r.code, r.stderr)
			}
		}
	}
}

// TestMessages pins the messages the attacker's review found unhelpful.
func TestMessages(t *testing.T) {
	needRoot(t)
	if r := gosu(t, "--add-groups=4294967295", "app", "id"); r.code != 1 ||
		r.stderr != "error: failed switching to 'app': --add-groups: uids and gids must be in range 0-4294967294\n" {
		t.Errorf("--add-groups=4294967295: exit %d, stderr %q", r.code, r.stderr)
	}
	script := needTool(t, "script", "bsdutils")
	// Non-root --pty: the reason, not the pty's chown.
	inner := strings.Join(withAccounts(setpriv(t, []string{"--reuid=65534", "--regid=65534", "--clear-groups"},
		bin+"/gosu", "--pty", "app", "id")...), " ")
	r := run(t, nil, script, "-qec", inner, "/dev/null")
	if r.code != 1 || !strings.Contains(r.stdout, "error: failed switching to 'app': setgroups: not running as root (uid 65534)") {
		t.Errorf("non-root --pty: exit %d, output %q", r.code, r.stdout)
	}
	// --pty without /proc names what it needs.
	inner = strings.Join(append([]string{bin + "/withaccounts", "-no-proc", accounts + "/passwd", accounts + "/group"}, bin+"/gosu", "--pty", "app", "id"), " ")
	r = run(t, nil, script, "-qec", inner, "/dev/null")
	if r.code != 1 || !strings.Contains(r.stdout, "error: --pty starts gosu again as /proc/self/exe, which needs /proc mounted: no such file or directory") {
		t.Errorf("--pty without /proc: exit %d, output %q", r.code, r.stdout)
	}
}

func runOut(argv ...string) ([]byte, error) {
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}
