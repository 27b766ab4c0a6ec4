package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const netBindService = "0000000000000400"

// TestCapabilityOptions: --keep-caps, --drop-bounding and --no-new-privs as
// the kernel reports them.
func TestCapabilityOptions(t *testing.T) {
	needRoot(t)
	p := bin + "/probe"
	bounding := ownStatus(t, "CapBnd")
	gosu(t, "--keep-caps=net_bind_service", "app", p).expect(t, "--keep-caps", map[string]string{
		"Uid": "1000 1000 1000 1000", "CapInh": netBindService, "CapPrm": netBindService, "CapEff": netBindService,
		"CapAmb": netBindService, "CapBnd": bounding, "NoNewPrivs": "0"})
	gosu(t, "--keep-caps=CAP_NET_BIND_SERVICE,Kill", "--drop-bounding", "--no-new-privs", "app", p).expect(t, "all three", map[string]string{
		"CapInh": "0000000000000420", "CapPrm": "0000000000000420", "CapEff": "0000000000000420",
		"CapAmb": "0000000000000420", "CapBnd": "0000000000000420", "NoNewPrivs": "1"})
	gosu(t, "--drop-bounding", "app", p).expect(t, "--drop-bounding alone", map[string]string{
		"CapBnd": noCaps, "CapPrm": noCaps, "CapAmb": noCaps})
	gosu(t, "--drop-bounding", "root", p).expect(t, "--drop-bounding for root", map[string]string{
		"Uid": "0 0 0 0", "CapBnd": noCaps, "CapPrm": noCaps, "CapEff": noCaps})
	gosu(t, "--no-new-privs", "root", p).expect(t, "--no-new-privs for root", map[string]string{
		"NoNewPrivs": "1", "CapBnd": bounding})
	// Without options: every set but the bounding one empty.
	gosu(t, "app", p).expect(t, "no option", map[string]string{
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "CapBnd": bounding, "NoNewPrivs": "0"})
}

// TestBindPort80: uid 65534 binds 127.0.0.1:80 in a private network
// namespace with --keep-caps=net_bind_service, and cannot without it.
func TestBindPort80(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	ip := needTool(t, "ip", "iproute2")
	bind := func(opts ...string) result {
		inner := strings.Join(withAccounts(append(append([]string{bin + "/gosu"}, opts...), "nobody", bin+"/probe", "bind", "127.0.0.1:80")...), " ")
		return run(t, nil, unshare, "--net", "sh", "-c", ip+" link set lo up && exec "+inner)
	}
	if r := bind("--keep-caps=net_bind_service"); r.code != 0 || r.probe["bind"] != "ok" || r.probe["Uid"] != "65534 65534 65534 65534" {
		t.Errorf("with --keep-caps: exit %d, bind %q, uid %q, stderr %q", r.code, r.probe["bind"], r.probe["Uid"], r.stderr)
	}
	if r := bind(); r.code != 1 || !strings.HasSuffix(r.probe["bind"], "permission denied") {
		t.Errorf("without --keep-caps: exit %d, bind %q, stderr %q; want permission denied", r.code, r.probe["bind"], r.stderr)
	}
}

// TestCloseFDs: an inherited descriptor of a root-only file reaches the
// command unless --close-fds; --keep-fds keeps the ones listed.
func TestCloseFDs(t *testing.T) {
	needRoot(t)
	dir := publicDir(t)
	secret := dir + "/secret"
	if err := os.WriteFile(secret, []byte("root only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() *os.File {
		f, err := os.Open(secret)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	withFDs := func(args ...string) *exec.Cmd {
		argv := withAccounts(append([]string{bin + "/gosu"}, args...)...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.ExtraFiles = []*os.File{open(), open()} // fds 3 and 4
		return cmd
	}
	// fdsOf lists the descriptors of the command, a sleep, as the kernel
	// sees them from outside (a probe would list its own runtime's too),
	// once it sleeps: while starting, sleep may briefly open locale files.
	fdsOf := func(args ...string) string {
		cmd := withFDs(append(args, "app", "sleep", "60")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		dir := "/proc/" + strconv.Itoa(cmd.Process.Pid)
		for range 500 {
			if wchan, _ := os.ReadFile(dir + "/wchan"); strings.Contains(string(wchan), "nanosleep") {
				entries, err := os.ReadDir(dir + "/fd")
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				return strings.Join(names, ",")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%q never ran sleep", args)
		return ""
	}
	// Without the option everything inherited passes: 3 and 4, and whatever
	// this test process itself inherited without close-on-exec.
	if got := "," + fdsOf() + ","; !strings.Contains(got, ",3,4,") {
		t.Errorf("gosu without --close-fds: the command's fds are %s, want 3 and 4 among them", got)
	}
	for _, tc := range []struct {
		opts []string
		want string
	}{
		{[]string{"--close-fds"}, "0,1,2"},
		{[]string{"--close-fds", "--keep-fds=4"}, "0,1,2,4"},
		{[]string{"--close-fds", "--keep-fds=3,4"}, "0,1,2,3,4"},
	} {
		if got := fdsOf(tc.opts...); got != tc.want {
			t.Errorf("gosu %q: the command's fds are %s, want %s", tc.opts, got, tc.want)
		}
	}
	read := func(args ...string) string {
		out, err := withFDs(append(args, "app", "sh", "-c", "cat <&3 2>/dev/null || echo closed")...).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if got := read(); got != "root only\n" {
		t.Errorf("without --close-fds the leak is the baseline: read %q through fd 3", got)
	}
	if got := read("--close-fds"); got != "closed\n" {
		t.Errorf("--close-fds: fd 3 still readable: %q", got)
	}
	r := gosu(t, "--close-fds", "--keep-fds=9", "app", "true")
	if want := "error: failed switching to 'app': --keep-fds: fd 9 to keep is not open\n"; r.code != 1 || r.stderr != want {
		t.Errorf("--keep-fds=9: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// TestGroupOptions: --keep-groups keeps the caller's supplementary groups,
// --add-groups adds more; merged without duplicates.
func TestGroupOptions(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	p := bin + "/probe"
	withGroups := func(args ...string) result {
		return run(t, nil, withAccounts(append([]string{setpriv, "--groups=4000,100,4001", bin + "/gosu"}, args...)...)...)
	}
	withGroups("app", p).expect(t, "groups are replaced by default", map[string]string{"Groups": "50 100"})
	withGroups("--keep-groups", "app", p).expect(t, "--keep-groups", map[string]string{"Groups": "50 100 4000 4001"})
	withGroups("--keep-groups", "app:app", p).expect(t, "--keep-groups, explicit form", map[string]string{"Groups": "100 4000 4001", "Gid": "1000 1000 1000 1000"})
	gosu(t, "--add-groups=daemon,staff,7777,users", "app", p).expect(t, "--add-groups", map[string]string{"Groups": "1 50 100 7777"})
	gosu(t, "--add-groups=3000000002", "nobody:nogroup", p).expect(t, "--add-groups, explicit form", map[string]string{"Groups": "3000000002"})
	r := gosu(t, "--add-groups=users,bogus", "app", p)
	if want := "error: failed switching to 'app': --add-groups: unable to find group bogus: no matching entries in group file\n"; r.code != 1 || r.stderr != want {
		t.Errorf("--add-groups=bogus: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestEnvOptions: --login-env and --keep-home.
func TestEnvOptions(t *testing.T) {
	needRoot(t)
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/zsh"}
	p := bin + "/probe"
	envRun := func(args ...string) result {
		return run(t, env, withAccounts(append([]string{bin + "/gosu"}, args...)...)...)
	}
	envRun("--login-env", "app", p).expect(t, "--login-env app", map[string]string{
		"env.HOME": "/home/app", "env.USER": "app", "env.LOGNAME": "app", "env.SHELL": "/bin/sh", "envc": "5"})
	envRun("--login-env", "2000", p).expect(t, "--login-env without an entry", map[string]string{
		"env.HOME": "/", "env.USER": "2000", "env.LOGNAME": "2000", "env.SHELL": "/bin/zsh"})
	envRun("--login-env", "noshell", p).expect(t, "--login-env with an empty shell field", map[string]string{
		"env.SHELL": "/bin/sh", "env.HOME": "/"})
	envRun("--keep-home", "app", p).expect(t, "--keep-home", map[string]string{"env.HOME": "/root", "env.USER": "root"})
	envRun("--keep-home", "--login-env", "twin", p).expect(t, "both", map[string]string{"env.HOME": "/root", "env.USER": "twin", "env.SHELL": "/bin/bash"})
}

// TestParentDeathSignal: with --pdeathsig the command dies when gosu's
// parent exits; without it, it lives on.
func TestParentDeathSignal(t *testing.T) {
	needRoot(t)
	start := func(opts ...string) int {
		argv := strings.Join(withAccounts(append(append([]string{bin + "/gosu"}, opts...), "app", "sleep", "60")...), " ")
		// The shell starts gosu in the background, reports its PID once the
		// command runs as app, and exits: gosu's parent is gone.
		out, err := exec.Command("sh", "-c", argv+` >/dev/null 2>&1 & pid=$!
			while ! grep -q "^Uid:.1000" /proc/$pid/status 2>/dev/null; do sleep 0.01; done
			echo $pid`).Output()
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		return pid
	}
	if pid := start("--pdeathsig=TERM"); !processGone(pid, 2*time.Second) {
		t.Errorf("--pdeathsig=TERM: the command outlived its parent")
	}
	if pid := start(); processGone(pid, 2*time.Second) {
		t.Errorf("without --pdeathsig the command died with its parent")
	}
}

// TestSignalState pins what reaches the command of the caller's blocked
// and ignored signals. A Go program cannot learn the dispositions and mask
// it was started with for the signals its runtime takes over (the runtime
// keeps them in unexported variables the linker does not let programs
// reach), so those are lost, exactly as with upstream gosu; the README lists
// them. Everything else must pass through, and nothing may be added.
func TestSignalState(t *testing.T) {
	needRoot(t)
	grep := needTool(t, "grep", "grep") // a C program reports what it inherited
	state := func(argv ...string) (blk, ign uint64) {
		r := run(t, nil, append([]string{bin + "/withaccounts", "-signals", accounts + "/passwd", accounts + "/group"}, append(argv, grep, "-E", "^Sig(Blk|Ign)", "/proc/self/status")...)...)
		for line := range strings.SplitSeq(r.stdout, "\n") {
			k, v, _ := strings.Cut(line, ":\t")
			n, _ := strconv.ParseUint(v, 16, 64)
			switch k {
			case "SigBlk":
				blk = n
			case "SigIgn":
				ign = n
			}
		}
		if r.code != 0 || blk == 0 || ign == 0 {
			t.Fatalf("%q: exit %d, %q, %q", argv, r.code, r.stdout, r.stderr)
		}
		return blk, ign
	}
	mask := func(sigs ...int) (m uint64) {
		for _, s := range sigs {
			m |= 1 << (s - 1)
		}
		return m
	}
	// Signals whose blocked state is lost: those the Go runtime unblocks at
	// start-up (synchronous, fatal, its own and SIGCHLD/SIGPROF/SIGURG).
	lostBlocked := mask(1, 2, 3, 4, 5, 6, 7, 8, 11, 15, 16, 17, 23, 27, 31, 32, 33, 34)
	// Of the signals a caller can ignore, only HUP, INT and the job-control
	// stops and CONT stay ignored; the runtime installs handlers for the rest.
	keptIgnored := mask(1, 2, 18, 20, 21, 22)

	callerBlk, callerIgn := state()
	for _, spec := range []string{"app", "root"} {
		for _, opts := range [][]string{nil, {"--detach-tty"}, {"--close-fds"}} {
			blk, ign := state(append(append([]string{bin + "/gosu"}, opts...), spec)...)
			what := "gosu " + strings.Join(append(opts, spec), " ")
			if blk != callerBlk&^lostBlocked {
				t.Errorf("%s: SigBlk %016x, want the caller's %016x without %016x", what, blk, callerBlk, lostBlocked)
			}
			if ign != callerIgn&keptIgnored {
				t.Errorf("%s: SigIgn %016x, want the caller's %016x limited to %016x", what, ign, callerIgn, keptIgnored)
			}
		}
	}
	// Nothing is added to a clean state.
	r := gosu(t, "app", grep, "-E", "^Sig(Blk|Ign)", "/proc/self/status")
	if r.stdout != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n" {
		t.Errorf("from a clean state: %q", r.stdout)
	}
}

// processGone waits up to d for pid to exit (a zombie counts as gone).
func processGone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil || strings.Contains(string(status), "State:\tZ") {
			return true
		}
	}
	return false
}
