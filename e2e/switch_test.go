package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const noCaps = "0000000000000000"

// ownStatus returns a field of this test process's /proc/self/status.
func ownStatus(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return ""
}

// TestSpecs runs every row of SPEC section 3 and every upstream acceptance
// case through the real binary and checks the kernel's view of the result.
func TestSpecs(t *testing.T) {
	needRoot(t)
	rootCaps := ownStatus(t, "CapPrm")
	for _, tc := range []struct {
		spec, uid, gid, groups, home string
	}{
		// Upstream's acceptance cases (2000 has no passwd entry here).
		{"0", "0", "0", "", "/root"},
		{"root", "0", "0", "", "/root"},
		{"0:0", "0", "0", "", "/root"},
		{"0:root", "0", "0", "", "/root"},
		{"root:0", "0", "0", "", "/root"},
		{"root:root", "0", "0", "", "/root"},
		{"2000", "2000", "0", "", "/"},
		{"0:1000", "0", "1000", "", "/root"},
		{"2000:2000", "2000", "2000", "", "/"},
		{"root:1000", "0", "1000", "", "/root"},
		{"2000:0", "2000", "0", "", "/"},
		{"2000:root", "2000", "0", "", "/"},
		{"2000:daemon", "2000", "1", "", "/"},
		{"games", "5", "60", "100", "/usr/games"},
		{"games:daemon", "5", "1", "", "/usr/games"},
		{"0:", "0", "0", "", "/root"},
		{"", "0", "0", "", "/root"},
		{":0", "0", "0", "", "/root"},
		// The rest of SPEC section 3 and the fixture's special users.
		{":", "0", "0", "", "/root"},
		{":daemon", "0", "1", "", "/root"},
		{"games:", "5", "60", "100", "/usr/games"},
		{"nobody", "65534", "65534", "0 1 60 100 65534", "/nonexistent"},
		{"app", "1000", "1000", "50 100", "/home/app"},
		{"1000", "1000", "1000", "50 100", "/home/app"}, // first of two entries with uid 1000
		{"twin", "1000", "1000", "", "/home/twin"},
		{"app:users", "1000", "100", "", "/home/app"},
		{"app:3000000002", "1000", "3000000002", "", "/home/app"},
		{"4242", "4242", "0", "", "/"},             // digits are an id, not the user named 4242
		{"4243", "4243", "4243", "", "/home/4242"}, // that user, by its uid
		{"00005", "5", "60", "100", "/usr/games"},
		{"nohome", "1001", "1001", "", "/"},
		{"high", "3000000000", "3000000001", "50 3000000002", "/home/high"},
		{"4294967294:4294967294", "4294967294", "4294967294", "", "/"},
		{"1002", "1002", "0", "", "/"}, // its only line is malformed: no entry
	} {
		t.Run("spec="+tc.spec, func(t *testing.T) {
			r := gosu(t, tc.spec, bin+"/probe", "a b", "")
			want := map[string]string{
				"Uid":      strings.Repeat(tc.uid+" ", 3) + tc.uid,
				"Gid":      strings.Repeat(tc.gid+" ", 3) + tc.gid,
				"Groups":   tc.groups,
				"env.HOME": tc.home,
				"argc":     "3",
				"arg0":     bin + "/probe",
				"arg1":     "a b",
				"arg2":     "",
			}
			if tc.uid == "0" {
				want["CapPrm"], want["CapEff"] = rootCaps, rootCaps
			} else {
				for _, c := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
					want[c] = noCaps
				}
			}
			r.expect(t, "gosu "+tc.spec, want)
		})
	}
}

func TestUnknownAndMalformedNeverRun(t *testing.T) {
	needRoot(t)
	const range_ = "uids and gids must be in range 0-4294967294"
	malformed := func(line int, why string) string {
		return "no matching entries in passwd file (/etc/passwd:" + strconv.Itoa(line) + " has that name but is malformed and ignored: " + why + ")"
	}
	for spec, want := range map[string]string{
		"bogus":      "unable to find user bogus: no matching entries in passwd file",
		"0day":       "unable to find user 0day: no matching entries in passwd file",
		"0:bogus":    "unable to find group bogus: no matching entries in group file",
		"0:0day":     "unable to find group 0day: no matching entries in group file",
		"0:broken":   "unable to find group broken: no matching entries in group file (/etc/group:11 has that name but is malformed and ignored: gid \"oops\" is not a decimal number in 0-4294967294)",
		"evil1":      "unable to find user evil1: " + malformed(11, `uid "notanumber" is not a decimal number in 0-4294967294`),
		"evil2":      "unable to find user evil2: " + malformed(12, `uid "" is not a decimal number in 0-4294967294`),
		"evil3":      "unable to find user evil3: " + malformed(13, "3 fields instead of 7"),
		"evil4":      "unable to find user evil4: " + malformed(14, "1 field instead of 7"),
		"#evil5":     "unable to find user #evil5: no matching entries in passwd file",
		"evil5":      "unable to find user evil5: no matching entries in passwd file",
		"evil6":      "unable to find user evil6: " + malformed(16, `uid "-1" is not a decimal number in 0-4294967294`),
		"evil7":      "unable to find user evil7: " + malformed(17, `uid "4294967296" is not a decimal number in 0-4294967294`),
		"evil8":      "unable to find user evil8: " + malformed(18, `uid "4294967295" is not a decimal number in 0-4294967294`),
		"evil9":      "unable to find user evil9: " + malformed(19, `gid "0x0" is not a decimal number in 0-4294967294`),
		"4294967295": range_,
		"4294967296": range_,
		"-1":         range_,
		"0:-1":       range_,
		"0:0:0":      "a user spec has at most one ':' (user:group)",
	} {
		r := gosu(t, spec, bin+"/probe")
		if wantErr := "error: failed switching to '" + spec + "': " + want + "\n"; r.code != 1 || r.stderr != wantErr || r.stdout != "" {
			t.Errorf("gosu %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", spec, r.code, r.stdout, r.stderr, wantErr)
		}
	}
}

// TestSamePID checks that the command is gosu's process itself: same PID, our
// child, the target's credentials, and our signals reach it.
func TestSamePID(t *testing.T) {
	needRoot(t)
	argv := withAccounts(bin+"/gosu", "app", "sleep", "100")
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		if string(comm) == "sleep\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s never became sleep (comm %q)", pid, comm)
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t1000\t1000\t1000\t1000\n", "Gid:\t1000\t1000\t1000\t1000\n",
		"Groups:\t50 100 \n", "PPid:\t" + strconv.Itoa(os.Getpid()) + "\n", "CapInh:\t" + noCaps + "\n",
		"CapPrm:\t" + noCaps + "\n", "CapEff:\t" + noCaps + "\n", "CapAmb:\t" + noCaps + "\n"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("/proc/%s/status lacks %q:\n%s", pid, want, status)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM || 128+int(ws.Signal()) != 143 {
		t.Errorf("after TERM: %v (%v), want killed by SIGTERM (143)", err, ws)
	}
}

// TestInheritableCapabilities: an inherited CapInh is cleared for a non-root
// target (CVE-2022-24769) and, as upstream, kept for root.
func TestInheritableCapabilities(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	inh := func(spec string) result {
		return run(t, nil, withAccounts(setpriv, "--inh-caps=+chown,+net_bind_service", bin+"/gosu", spec, bin+"/probe")...)
	}
	inh("app").expect(t, "non-root target", map[string]string{"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "Uid": "1000 1000 1000 1000"})
	inh("root").expect(t, "root target", map[string]string{"CapInh": "0000000000000401"})
	inh("0:1000").expect(t, "root with another group", map[string]string{"CapInh": "0000000000000401", "Gid": "1000 1000 1000 1000"})
}

// TestSameIdentity: asking for the identity one already has is a plain exec,
// so it works without root; anything else fails and says why.
func TestSameIdentity(t *testing.T) {
	needRoot(t)
	g := bin + "/gosu"
	gosu(t, "app", g, "app", bin+"/probe").expect(t, "app to app", map[string]string{"Uid": "1000 1000 1000 1000", "Groups": "50 100", "env.HOME": "/home/app"})
	gosu(t, "app", g, "1000", bin+"/probe").expect(t, "app to 1000", map[string]string{"Uid": "1000 1000 1000 1000", "Groups": "50 100"})
	gosu(t, "app", g, "", bin+"/probe").expect(t, "app to ''", map[string]string{"Uid": "1000 1000 1000 1000", "Groups": "50 100", "env.HOME": "/home/app"})
	gosu(t, "2000", g, "", bin+"/probe").expect(t, "2000 to ''", map[string]string{"Uid": "2000 2000 2000 2000", "Gid": "0 0 0 0", "env.HOME": "/"})
	// Same uid and gid, groups it cannot drop: kept, a plain exec.
	gosu(t, "app", g, "app:app", bin+"/probe").expect(t, "app to app:app", map[string]string{"Uid": "1000 1000 1000 1000", "Groups": "50 100"})

	const notRoot = "not running as root (uid 1000): only root can switch to another identity; without root, gosu can only run a command as its own current identity"
	for spec, call := range map[string]string{"root": "setgroups", "app:users": "setgroups", "nobody": "setgroups"} {
		r := gosu(t, "app", g, spec, bin+"/probe")
		if want := "error: failed switching to '" + spec + "': " + call + ": " + notRoot + "\n"; r.code != 1 || r.stderr != want {
			t.Errorf("app to %s: exit %d, stderr %q; want 1, %q", spec, r.code, r.stderr, want)
		}
	}
}

// TestUserNamespace: root in a user namespace where setgroups is denied can
// still ask for its own identity, and is told which id is not mapped.
func TestUserNamespace(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	ns := func(spec string) result {
		return run(t, nil, withAccounts(unshare, "--user", "--map-root-user", bin+"/gosu", spec, bin+"/probe")...)
	}
	ns("0:0").expect(t, "0:0", map[string]string{"Uid": "0 0 0 0", "Gid": "0 0 0 0", "Groups": ""})
	ns("root").expect(t, "root", map[string]string{"Uid": "0 0 0 0", "env.HOME": "/root"})
	for spec, want := range map[string]string{
		"app":       "setgroups: setgroups is denied in this user namespace (/proc/self/setgroups is \"deny\"), so the supplementary groups cannot be changed",
		"0:1000":    "setgid: gid 1000 is not mapped in this user namespace",
		"twin:root": "setuid: uid 1000 is not mapped in this user namespace",
	} {
		r := ns(spec)
		if want := "error: failed switching to '" + spec + "': " + want + "\n"; r.code != 1 || r.stderr != want {
			t.Errorf("%s: exit %d, stderr %q; want 1, %q", spec, r.code, r.stderr, want)
		}
	}
}

// TestSetuidInstallRefused: a setuid or setgid copy run by a non-root user is
// refused, also where /proc is not mounted.
func TestSetuidInstallRefused(t *testing.T) {
	needRoot(t)
	dir := publicDir(t)
	data, err := os.ReadFile(bin + "/gosu")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"setuid", 0o755 | os.ModeSetuid, "appears to be installed with the 'setuid' bit set (real uid 1000, effective uid 0)"},
		{"setgid", 0o755 | os.ModeSetgid, "appears to be installed with the 'setgid' bit set (real gid 1000, effective gid 0)"},
	} {
		copy := filepath.Join(dir, "gosu-"+tc.name)
		if err := os.WriteFile(copy, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(copy, tc.mode); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			withAccounts(bin+"/gosu", "app", copy, "root", bin+"/probe"),
			withAccounts(bin+"/gosu", "app", copy, "--help"),
			append([]string{bin + "/withaccounts", "-no-proc"}, withAccounts(bin+"/gosu", "app", copy, "root", "/bin/true")[1:]...),
		} {
			r := run(t, nil, args...)
			if r.code != 1 || !strings.HasPrefix(r.stderr, "error: "+copy+" "+tc.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, r.code, r.stdout, r.stderr, tc.want)
			}
		}
	}
}

// TestNoProc: the switch, its verification and the exec need no /proc.
func TestNoProc(t *testing.T) {
	needRoot(t)
	r := run(t, nil, bin+"/withaccounts", "-no-proc", accounts+"/passwd", accounts+"/group", bin+"/gosu", "app", "sh", "-c", "id -u; id -G; test -e /proc/self/status || echo no-proc")
	if r.code != 0 || r.stdout != "1000\n1000 50 100\nno-proc\n" {
		t.Errorf("without /proc: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestEnvironment: HOME is set from the target and nothing else changes.
func TestEnvironment(t *testing.T) {
	needRoot(t)
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root", "FOO=bar", "HOME=/dup", "USER=root"}
	r := run(t, env, withAccounts(bin+"/gosu", "app", bin+"/probe")...)
	r.expect(t, "env", map[string]string{"env.HOME": "/home/app", "env.USER": "root", "env.PATH": "/usr/bin:/bin", "envc": "4", "env.LOGNAME": absent})
	r = run(t, []string{"FOO=bar"}, withAccounts(bin+"/gosu", "nohome", "probe")...)
	if r.code != 127 {
		t.Errorf("probe is not in the default PATH, yet: exit %d, %q", r.code, r.stderr)
	}
	r = run(t, []string{"FOO=bar"}, withAccounts(bin+"/gosu", "nohome", "env")...)
	if r.code != 0 || r.stdout != "FOO=bar\nHOME=/\n" {
		t.Errorf("no PATH: the default PATH finds env(1): exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
