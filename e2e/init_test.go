package e2e

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An init is tried in two places: as PID 1 of a new PID namespace, and as a
// plain child (where it is a child subreaper). Debian's tini runs the same
// cases side by side (tini -s -- gosu USER ..., tini -- gosu USER ... as PID 1),
// so that every difference is one on purpose.
type initCase struct {
	name  string
	wrap  []string // before gosu's or tini's own words
	ours  bool
	pid1  bool
	words []string // the init and its options, before USER-SPEC
}

func initCases(t *testing.T) []initCase {
	t.Helper()
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	tini := needTool(t, "tini", "tini")
	ns := []string{unshare, "-fp", "--mount-proc"}
	g := bin + "/gosu"
	return []initCase{
		{name: "gosu --init", ours: true, words: []string{g, "--init"}},
		{name: "tini -s", words: []string{tini, "-s", "--", g}},
		{name: "gosu --init as PID 1", wrap: ns, ours: true, pid1: true, words: []string{g, "--init"}},
		{name: "tini as PID 1", wrap: ns, pid1: true, words: []string{tini, "--", g}},
	}
}

// argv is the whole command line for USER-SPEC and the command.
func (c initCase) argv(extra []string, rest ...string) []string {
	words := append([]string{}, c.words...)
	if c.ours {
		words = append(words, extra...)
	}
	return withAccounts(append(append(append([]string{}, c.wrap...), words...), rest...)...)
}

// sharedDir is a temporary directory every user may write.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// started is an init started in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr strings.Builder
	done           chan struct{}
}

func startInit(t *testing.T, argv []string, extra ...*os.File) *started {
	t.Helper()
	s := &started{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	s.cmd.ExtraFiles = extra
	s.cmd.WaitDelay = time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		// What the init started is in process groups of its own (as PID
		// 1, in a namespace that ends with it).
		pid := strconv.Itoa(s.cmd.Process.Pid)
		b, _ := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children")
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				syscall.Kill(-n, syscall.SIGKILL)
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// wait returns the exit status (128+N for a signal), failing after d.
func (s *started) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("still running after %v; stdout %q, stderr %q", d, s.stdout.String(), s.stderr.String())
	}
	ws := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// initPID is the init's PID as seen from here: the process started, or
// unshare's child.
func (s *started) initPID(t *testing.T, pid1 bool) int {
	t.Helper()
	if !pid1 {
		return s.cmd.Process.Pid
	}
	return firstChild(t, s.cmd.Process.Pid)
}

func firstChild(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d has no child", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForFile waits until path holds a complete line.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// statusOf returns /proc/PID/status once it has the line until (the parent
// locks itself down just after starting the command), or after 5 seconds.
func statusOf(t *testing.T, pid int, until string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "\n"+until+"\n") || time.Now().After(deadline) {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInitExitStatus: exit codes pass through; death by a signal is
// 128+N; gosu's own exec failures are 127 and 126; the same as tini.
func TestInitExitStatus(t *testing.T) {
	for _, c := range initCases(t) {
		for _, tc := range []struct {
			cmd  []string
			want int
		}{
			{[]string{"sh", "-c", "exit 0"}, 0}, {[]string{"sh", "-c", "exit 1"}, 1}, {[]string{"sh", "-c", "exit 2"}, 2},
			{[]string{bin + "/probe", "exit", "42"}, 42}, {[]string{"sh", "-c", "exit 127"}, 127}, {[]string{"sh", "-c", "exit 255"}, 255},
			{[]string{"sh", "-c", "kill -TERM $$"}, 143}, {[]string{"sh", "-c", "kill -KILL $$"}, 137},
			{[]string{"no-such-command"}, 127}, {[]string{"/etc/passwd"}, 126},
		} {
			r := run(t, nil, c.argv(nil, append([]string{"app"}, tc.cmd...)...)...)
			if r.code != tc.want {
				t.Errorf("%s: %q: exit %d, want %d (stderr %q)", c.name, tc.cmd, r.code, tc.want, r.stderr)
			}
		}
	}
}

// TestInitSuccessCodes: --init-success maps statuses to 0, like tini -e.
func TestInitSuccessCodes(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--init", "--init-success=3,143", "app", "sh", "-c", "exit 3"}, 0},
		{[]string{"--init", "--init-success=143", "app", "sh", "-c", "kill -TERM $$"}, 0},
		{[]string{"--init", "--init-success=3", "app", "sh", "-c", "exit 4"}, 4},
	} {
		if r := gosu(t, tc.args...); r.code != tc.want {
			t.Errorf("%q: exit %d, want %d (%q)", tc.args, r.code, tc.want, r.stderr)
		}
	}
}

// TestInitForwardsSignals: TERM, INT, HUP, USR1, USR2 and QUIT sent to the
// init end a sleep with no handler of its own with 128+N.
func TestInitForwardsSignals(t *testing.T) {
	for _, c := range initCases(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT} {
			dir := sharedDir(t)
			s := startInit(t, c.argv(nil, "app", "sh", "-c", "echo $$ > "+dir+"/ready; exec sleep 100"))
			waitForFile(t, dir+"/ready")
			time.Sleep(100 * time.Millisecond) // the exec
			syscall.Kill(s.initPID(t, c.pid1), sig)
			if code := s.wait(t, 10*time.Second); code != 128+int(sig) {
				t.Errorf("%s: %v: exit %d, want %d (stderr %q)", c.name, sig, code, 128+int(sig), s.stderr.String())
			}
		}
	}
}

// TestInitTrappedHUP: a shell that traps HUP gets it, running as the user.
func TestInitTrappedHUP(t *testing.T) {
	for _, c := range initCases(t) {
		dir := sharedDir(t)
		s := startInit(t, c.argv(nil, "app", "sh", "-c",
			`trap 'echo HUP as $(id -u); exit 9' HUP; echo > `+dir+`/ready; while :; do sleep 0.05; done`))
		waitForFile(t, dir+"/ready")
		syscall.Kill(s.initPID(t, c.pid1), syscall.SIGHUP)
		if code := s.wait(t, 10*time.Second); code != 9 || s.stdout.String() != "HUP as 1000\n" {
			t.Errorf("%s: exit %d, stdout %q; want 9 and \"HUP as 1000\"", c.name, code, s.stdout.String())
		}
	}
}

// orphanBurst makes 50 orphans that exit at once, then lists the zombies
// among its parent's (the init's) children.
const orphanBurst = `i=0; while [ $i -lt 50 ]; do (sleep 0.1 &); i=$((i+1)); done; sleep 1
ppid=$(awk '{print $4}' /proc/$$/stat)
for p in /proc/[0-9]*; do
	s=$(cat $p/stat 2>/dev/null) || continue
	set -- ${s##*) }
	[ "$2" = "$ppid" ] && [ "$1" = Z ] && echo zombie ${p#/proc/}
done; exit 7`

// TestInitReapsOrphans: no zombie is left after a burst of orphans, as PID
// 1 and as a subreaper. (tini -s reaps the same way.)
func TestInitReapsOrphans(t *testing.T) {
	for _, c := range initCases(t) {
		r := run(t, nil, c.argv(nil, "app", "sh", "-c", orphanBurst)...)
		if r.code != 7 || r.stdout != "" {
			t.Errorf("%s: exit %d (want 7), zombies %q, stderr %q", c.name, r.code, r.stdout, r.stderr)
		}
	}
}

// TestInitCwdAndStdin: the working directory and stdin reach the command.
func TestInitCwdAndStdin(t *testing.T) {
	for _, c := range initCases(t) {
		dir := publicDir(t)
		argv := c.argv(nil, "app", "sh", "-c", "pwd; od -An -c")
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("a\tb\n")
		out, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), dir+"\n") || strings.Join(strings.Fields(string(out[len(dir)+1:])), " ") != `a \t b \n` {
			t.Errorf("%s: %v, output %q; want the cwd and stdin byte for byte", c.name, err, out)
		}
	}
}

// TestInitParent: what the init keeps while the command runs, as the
// kernel reports it: uid 0 with CAP_KILL alone (bounding set included) and
// no_new_privs; no inherited descriptor (the command has it); the command
// in a process group of its own, as the user.
func TestInitParent(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	f, err := os.CreateTemp(dir, "inherited")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := startInit(t, withAccounts(bin+"/gosu", "--init", "app", "sh", "-c", `echo > `+dir+`/ready; exec sleep 100`), f)
	waitForFile(t, dir+"/ready")
	time.Sleep(100 * time.Millisecond) // the exec
	init := strconv.Itoa(s.cmd.Process.Pid)
	status := statusOf(t, s.cmd.Process.Pid, "NoNewPrivs:\t1")
	for _, want := range []string{"Uid:\t0\t0\t0\t0", "CapInh:\t" + noCaps, "CapPrm:\t0000000000000020",
		"CapEff:\t0000000000000020", "CapAmb:\t" + noCaps, "NoNewPrivs:\t1"} {
		if !strings.Contains(status, "\n"+want+"\n") {
			t.Errorf("the init lacks %q:\n%s", want, status)
		}
	}
	ents, err := os.ReadDir("/proc/" + init + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		link, _ := os.Readlink("/proc/" + init + "/fd/" + e.Name())
		// Its own: stdio, the self-pipe, the signalfd, the command's pidfd, and the cgroup
		// files Go's runtime (1.25+) reads the CPU limit from.
		if n, _ := strconv.Atoi(e.Name()); n > 2 && !strings.HasPrefix(link, "pipe:") && link != "anon_inode:[signalfd]" && link != "anon_inode:[pidfd]" && !strings.HasPrefix(link, "/sys/fs/cgroup/") {
			t.Errorf("the init holds fd %s -> %s", e.Name(), link)
		}
	}
	cmd := strconv.Itoa(firstChild(t, s.cmd.Process.Pid))
	if link, err := os.Readlink("/proc/" + cmd + "/fd/3"); err != nil || link != f.Name() {
		t.Errorf("the command's fd 3: %q, %v; want the inherited %s", link, err, f.Name())
	}
	cstatus, _ := os.ReadFile("/proc/" + cmd + "/status")
	for _, want := range []string{"Name:\tsleep", "Uid:\t1000\t1000\t1000\t1000", "PPid:\t" + init, "NSpgid:\t" + cmd} {
		if !strings.Contains(string(cstatus), "\n"+want+"\n") && !strings.HasPrefix(string(cstatus), want+"\n") {
			t.Errorf("the command lacks %q:\n%s", want, cstatus)
		}
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if code := s.wait(t, 10*time.Second); code != 143 {
		t.Errorf("exit %d after TERM, want 143", code)
	}
}

// TestInitLeftovers: when the command exits, a process it left gets
// SIGTERM (it writes a marker and exits cleanly, which the init waits for),
// and the command's status is kept; one that ignores SIGTERM gets SIGKILL
// after --init-grace, and gosu says so. tini leaves both to the kernel.
func TestInitLeftovers(t *testing.T) {
	for _, c := range initCases(t) {
		if !c.ours {
			continue
		}
		dir := sharedDir(t)
		start := time.Now()
		r := run(t, nil, c.argv(nil, "app", "sh", "-c",
			`setsid sh -c 'trap "echo clean > `+dir+`/marker; exit 0" TERM; echo > `+dir+`/ready; while :; do sleep 0.05; done' &
			while [ ! -s `+dir+`/ready ]; do sleep 0.01; done; exit 5`)...)
		m, _ := os.ReadFile(dir + "/marker")
		if r.code != 5 || string(m) != "clean\n" || strings.Contains(r.stderr, "SIGKILL") || time.Since(start) > 4*time.Second {
			t.Errorf("%s: exit %d (want 5), marker %q, stderr %q, took %v", c.name, r.code, m, r.stderr, time.Since(start))
		}

		start = time.Now()
		r = run(t, nil, c.argv([]string{"--init-grace=0.3"}, "app", "sh", "-c",
			`setsid sh -c 'trap "" TERM; echo > `+dir+`/ready2; while :; do sleep 0.05; done' &
			while [ ! -s `+dir+`/ready2 ]; do sleep 0.01; done; exit 6`)...)
		took := time.Since(start)
		if r.code != 6 || !strings.HasSuffix(r.stderr, "gosu: --init: processes left by the command were still running 300 ms after SIGTERM; sending SIGKILL\n") ||
			took < 300*time.Millisecond || took > 4*time.Second {
			t.Errorf("%s: exit %d (want 6), stderr %q, took %v", c.name, r.code, r.stderr, took)
		}
	}
}

// TestInitPGroup: with --init-pgroup a signal reaches the command's whole
// process group (tini -g): here a background sleep of a shell that waits.
func TestInitPGroup(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	s := startInit(t, withAccounts(bin+"/gosu", "--init", "--init-pgroup", "app", "sh", "-c",
		`sleep 100 & echo $! > `+dir+`/ready; wait $!; echo sleep-ended-$?`))
	waitForFile(t, dir+"/ready")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGUSR1)
	code := s.wait(t, 10*time.Second)
	if code != 128+int(syscall.SIGUSR1) {
		t.Errorf("exit %d, want %d: the shell itself got USR1 too; stdout %q", code, 128+int(syscall.SIGUSR1), s.stdout.String())
	}
}

// TestInitForeground: on a terminal, the command is the terminal's
// foreground process group (the init is not), so Ctrl-C ends the command
// with 130, and the calling shell's loop stops too (the init re-raises the
// interrupt, as sudo does); the terminal is handed back.
func TestInitForeground(t *testing.T) {
	s := newTmux(t)
	g := strings.Join(withAccounts(bin+"/gosu"), " ")
	// Fields 5 and 8 of /proc/self/stat: pgrp and the terminal's
	// foreground group.
	s.line(g + ` --init app sh -c 'set -- $(cut -d" " -f5,8 /proc/$$/stat); echo "pgrp=$1 tpgid=$2"'`)
	p := s.waitFor(`^pgrp=\d+ tpgid=\d+$`)
	if m := regexpFind(`pgrp=(\d+) tpgid=(\d+)`, p); m == nil || m[1] != m[2] {
		t.Errorf("the command is not the terminal's foreground process group: %v", m)
	}
	s.line("for i in 1 2 3; do " + g + " --init app sleep 100; echo next-$i; done")
	time.Sleep(500 * time.Millisecond)
	s.send("C-c")
	s.line("echo status=$?")
	p = s.waitFor(`^status=130$`)
	if strings.Contains(p, "next-1") {
		t.Errorf("the loop went on after Ctrl-C:\n%s", p)
	}
}

func regexpFind(re, s string) []string {
	return regexp.MustCompile(re).FindStringSubmatch(s)
}

// TestInitGroupIDReuse: the init never signals a process group by an id
// that may have become another process's. The command leaves a process
// that ignores SIGTERM (so the grace period runs to its end) and exits;
// once the init has reaped it, a root process outside gosu is given the
// command's PID (ns_last_pid, in a PID namespace of the test's own) and
// leads a session, so its process group has the command's old id. The
// init used to send SIGKILL to that id when the grace period ended; it must
// reach only its own listed children.
func TestInitGroupIDReuse(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	dir := sharedDir(t)
	g := strings.Join(withAccounts(bin+"/gosu"), " ")
	script := `export D=` + dir + `
` + g + ` --init --init-grace=0.5 app sh -c '
	setsid sh -c "trap \"\" TERM; echo > $D/left; exec sleep 100" &
	echo $$ > $D/cmd; while [ ! -s $D/left ]; do sleep 0.01; done; exit 0' &
GOSU=$!
while [ ! -s $D/cmd ]; do sleep 0.01; done
CMD=$(cat $D/cmd)
while [ -e /proc/$CMD ]; do sleep 0.005; done
echo $((CMD - 1)) > /proc/sys/kernel/ns_last_pid
setsid sleep 30 &
VICTIM=$!
wait $GOSU
echo "gosu=$? cmd=$CMD victim=$VICTIM"
kill -0 $VICTIM && echo victim-alive
kill $VICTIM`
	// Bounded: the namespace, and all in it, ends with unshare.
	// (unshare blocks TERM while it waits: KILL it, and --kill-child
	// ends the namespace.)
	r := run(t, nil, needTool(t, "timeout", "coreutils"), "-s", "KILL", "60", unshare, "-fp", "--kill-child", "--mount-proc", "sh", "-c", script)
	m := regexpFind(`gosu=(\d+) cmd=(\d+) victim=(\d+)`, r.stdout)
	if m == nil || m[1] != "0" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if m[2] != m[3] {
		t.Fatalf("the victim got PID %s, not the command's %s: the test could not set it up", m[3], m[2])
	}
	if !strings.Contains(r.stdout, "victim-alive") {
		t.Errorf("the init killed a process that took the command's PID (and so its process group id): %q, stderr %q", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "sending SIGKILL") {
		t.Errorf("the leftover that ignores SIGTERM did not get SIGKILL: stderr %q", r.stderr)
	}
}

// TestInitIgnoredSignals: signals gosu was started with ignored (nohup, a
// script's background job, a supervisor) are still forwarded to a command
// that catches them, as tini does and as the command would get them without
// a parent; and the command starts with exactly the dispositions plain gosu
// gives it: HUP, INT and TSTP stay ignored, USR1 does not (Go's runtime
// replaces it in any gosu; docs/design.md).
func TestInitIgnoredSignals(t *testing.T) {
	needRoot(t)
	g := strings.Join(withAccounts(bin+"/gosu"), " ")
	ign := `trap "" HUP INT USR1 TSTP; exec "$@"`
	plain := run(t, nil, "sh", "-c", ign+` `+g+` app sh -c 'grep SigIgn /proc/$$/status'`)
	init := run(t, nil, "sh", "-c", ign+` `+g+` --init app sh -c 'grep SigIgn /proc/$$/status'`)
	if want := "SigIgn:\t0000000000080003\n"; plain.stdout != want || init.stdout != want {
		t.Errorf("SigIgn of the command: plain gosu %q, --init %q; want %q for both", plain.stdout, init.stdout, want)
	}
	for _, c := range initCases(t) {
		if c.pid1 {
			continue
		}
		argv := append([]string{"sh", "-c", ign, "sh"}, c.argv(nil, "app", bin+"/signals", "catch", "1", "2", "10")...)
		s := startInit(t, argv)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(s.stdout.String(), "ready") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGUSR1} {
			syscall.Kill(s.cmd.Process.Pid, sig)
		}
		if code := s.wait(t, 10*time.Second); code != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want HUP, INT and USR1 forwarded", c.name, code, s.stdout.String(), s.stderr.String())
		}
	}
}

// TestInitSignalBursts: bursts of real-time and standard signals sent at
// random moments of start-up, from gosu's first instruction on (before
// the child exists, while it starts, while the parent execs itself again,
// after the command's exec), all reach the command: every real-time signal
// as many times as it was sent, every standard one at least once (standard
// signals pending together are one, in the kernel as in os/signal). The
// signals are blocked when gosu starts, as a program that must see every
// signal from its first instruction is started: the mask passes through
// gosu to the command (the signals helper), which counts them from a
// signalfd. (HUP, INT, QUIT, ABRT and TERM are left out: Go's runtime
// unblocks those in any gosu, and one arriving before the parent catches
// it ends gosu, which then starts nothing.)
func TestInitSignalBursts(t *testing.T) {
	needRoot(t)
	signalBursts(t, nil, nil, 12, 30*time.Millisecond)
}

// TestInitSignalBurstsStarved: the same bursts while gosu starts on a CPU
// that a busy loop keeps, at SCHED_IDLE: each step of its start-up (the
// parent binding its threads, forking, execing itself; the child's start
// and exec) is stretched over many time slices, and the bursts, spread
// over 300 ms, land inside them.
func TestInitSignalBurstsStarved(t *testing.T) {
	needRoot(t)
	taskset := needTool(t, "taskset", "util-linux")
	chrt := needTool(t, "chrt", "util-linux")
	cpu := strconv.Itoa(ownCPUs(t)[0])
	// The busy loop runs from just before gosu starts until the last
	// burst, then the command may count at its ease.
	busy := func() func() {
		loop := exec.Command(taskset, "-c", cpu, "sh", "-c", "while :; do :; done")
		if err := loop.Start(); err != nil {
			t.Fatal(err)
		}
		stop := func() { loop.Process.Kill(); loop.Wait() }
		t.Cleanup(stop)
		return stop
	}
	signalBursts(t, []string{taskset, "-c", cpu, chrt, "-i", "0"}, busy, 4, 300*time.Millisecond)
}

// signalBursts runs gosu --init with the signals helper (wrap in front of
// gosu, exec'ing it), sending bursts at random moments within span of its
// start, then checks what arrived. busy, if not nil, starts a load before
// each run and returns what ends it once the bursts are sent.
func signalBursts(t *testing.T, wrap []string, busy func() func(), runs int, span time.Duration) {
	t.Helper()
	std := []int{10, 12, 14, 28}
	rt := []int{35, 36, 40, 50, 63}
	const until = 64
	list := []string{}
	for _, n := range append(append(append([]int{}, std...), rt...), until) {
		list = append(list, strconv.Itoa(n))
	}
	argv := withAccounts(append(append(wrap, bin+"/gosu", "--init", "app", bin+"/signals", "count", strconv.Itoa(until)), list...)...)
	var mask unix.Sigset_t
	for _, n := range append(append(append([]int{}, std...), rt...), until) {
		mask.Val[(n-1)/64] |= 1 << ((n - 1) % 64)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	for run := range runs {
		stop := func() {}
		if busy != nil {
			stop = busy()
		}
		s := startBlocked(t, argv, &mask)
		pid := s.cmd.Process.Pid
		sent := map[int]int{}
		start := time.Now()
		// Bursts at random moments in span (30 ms: the whole start-up of
		// parent and child here), the first at once.
		for b := range 6 {
			if b > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(rng.Int64N(int64(span))))))
			}
			for _, n := range rt {
				for range 1 + rng.IntN(20) {
					syscall.Kill(pid, syscall.Signal(n))
					sent[n]++
				}
			}
			for _, n := range std {
				if rng.IntN(2) == 0 {
					syscall.Kill(pid, syscall.Signal(n))
					sent[n]++
				}
			}
		}
		syscall.Kill(pid, until)
		stop()
		if code := s.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("run %d: exit %d, stdout %q, stderr %q", run, code, s.stdout.String(), s.stderr.String())
		}
		for _, n := range rt {
			if want := strconv.Itoa(n) + "=" + strconv.Itoa(sent[n]) + "\n"; !strings.Contains(s.stdout.String(), want) {
				t.Errorf("run %d: signal %d sent %d times; the command got: %q", run, n, sent[n], s.stdout.String())
			}
		}
		for _, n := range std {
			if sent[n] > 0 && strings.Contains(s.stdout.String(), "\n"+strconv.Itoa(n)+"=0\n") {
				t.Errorf("run %d: signal %d sent %d times never arrived: %q", run, n, sent[n], s.stdout.String())
			}
		}
	}
}

// TestInitSignalsToMainThread: signals sent to the init's main thread alone
// (tgkill(PID, PID, sig), the thread whose id is the PID; tkill and
// pthread_kill senders do that) reach the command as those sent to the
// process do, as with tini (one thread): a real-time one as many times as
// it was sent. A signal pending for one thread is read only by a signalfd
// read on that thread, so the supervisor's loop must run on its main thread
// (internal/supervise: Resume).
func TestInitSignalsToMainThread(t *testing.T) {
	needRoot(t)
	var mask unix.Sigset_t
	for _, n := range []int{10, 35, 64} {
		mask.Val[(n-1)/64] |= 1 << ((n - 1) % 64)
	}
	for _, c := range initCases(t) {
		for run := range 3 {
			s := startBlocked(t, c.argv(nil, "app", bin+"/signals", "count", "64", "10", "35"), &mask)
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(s.stdout.String(), "ready") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			init := s.cmd.Process.Pid
			if c.pid1 {
				init = firstChild(t, init) // unshare's
			}
			for range 5 {
				unix.Tgkill(init, init, 35)
			}
			unix.Tgkill(init, init, 10)
			time.Sleep(100 * time.Millisecond)
			syscall.Kill(init, 64)
			if code := s.wait(t, 10*time.Second); code != 0 || !strings.Contains(s.stdout.String(), "\n10=1\n") || !strings.Contains(s.stdout.String(), "\n35=5\n") {
				t.Errorf("%s, run %d: exit %d, stdout %q, stderr %q; want 10=1 and 35=5", c.name, run, code, s.stdout.String(), s.stderr.String())
			}
		}
	}
}

// TestInitName: ps and top show the init as gosu, every time. The
// supervisor, exec'd as /proc/self/exe ("exe"), names itself again with
// PR_SET_NAME, which names the calling thread only: it must run on the main
// thread, whose name is the process's (unlocked, 2 starts in 100 kept
// "exe").
func TestInitName(t *testing.T) {
	needRoot(t)
	r := run(t, nil, withAccounts("sh", "-c", `for i in $(seq 100); do `+bin+`/gosu --init app sh -c 'cat /proc/$PPID/comm'; done`)...)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 100 || strings.Count(r.stdout, "gosu\n") != 100 {
		t.Errorf("exit %d, %d lines, %d of them gosu; stderr %q", r.code, len(lines), strings.Count(r.stdout, "gosu\n"), r.stderr)
	}
}

// TestInitStartFailures: when the parent cannot start the child (its exec
// of /proc/self/exe fails) or cannot become the supervisor (capset fails),
// after it has bound its threads to a CPU, gosu says so in one line and
// exits 1; the command never runs, and nothing is left (in a PID namespace
// of its own, with a shell as PID 1, only the shell remains).
// strace injects the failures; binding that fails everywhere changes
// nothing.
func TestInitStartFailures(t *testing.T) {
	needRoot(t)
	strace := needTool(t, "strace", "strace")
	unshare := needTool(t, "unshare", "util-linux")
	for _, tc := range []struct{ inject, want string }{
		{"execve:error=EACCES:when=1", "error: --init: starting gosu again as /proc/self/exe: permission denied\n"},
		{"capset:error=EPERM:when=1", "error: --init: becoming the supervisor: operation not permitted\n"},
		{"sched_setaffinity:error=EPERM", ""},
	} {
		call, _, _ := strings.Cut(tc.inject, ":")
		script := strace + " -f -qq -o /dev/null -e trace=" + call + " -e inject=" + tc.inject + " " + bin +
			"/gosu --init app sh -c 'echo ran'; echo status=$?; sleep 0.2; echo /proc/[0-9]*"
		r := run(t, nil, withAccounts(unshare, "-fp", "--mount-proc", "sh", "-c", script)...)
		want := "status=1\n"
		if tc.want == "" {
			want = "ran\nstatus=0\n"
		}
		procs := strings.Fields(strings.TrimPrefix(r.stdout, want))
		if r.code != 0 || !strings.HasPrefix(r.stdout, want) || r.stderr != tc.want || len(procs) != 1 || procs[0] != "/proc/1" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q, then only /proc/1, and %q", tc.inject, r.code, r.stdout, r.stderr, want, tc.want)
		}
	}
}

// startBlocked starts argv with the signals in mask blocked from its first
// instruction: the thread that forks it blocks them, and a child starts
// with its parent thread's mask.
func startBlocked(t *testing.T, argv []string, mask *unix.Sigset_t) *started {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, mask, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return startInit(t, argv)
}

// TestInitParentAsTarget: the command, as the user, cannot reach the init
// it runs under: not with a signal, not through /proc/PID (environment,
// descriptors, memory); and it holds no descriptor of the init's (the gate,
// the self-pipe, the signalfd): it has the same ones as under plain gosu.
func TestInitParentAsTarget(t *testing.T) {
	needRoot(t)
	script := `p=$PPID
		kill -TERM $p 2>/dev/null && echo kill-worked
		cat /proc/$p/environ >/dev/null 2>&1 && echo environ-read
		ls /proc/$p/fd >/dev/null 2>&1 && echo fds-listed
		head -c1 /proc/$p/mem >/dev/null 2>&1 && echo mem-read
		` + bin + `/probe | grep '^fds='; echo done`
	plain := gosu(t, "app", "sh", "-c", script)
	r := gosu(t, "--init", "app", "sh", "-c", script)
	if r.code != 0 || r.stdout != plain.stdout || !strings.HasPrefix(r.stdout, "fds=") {
		t.Errorf("exit %d, stdout %q, stderr %q; want nothing reached and the descriptors of plain gosu's command (%q)", r.code, r.stdout, r.stderr, plain.stdout)
	}
}

// TestInitClosedStdio: gosu started with stdin, stdout and stderr closed
// still supervises, and the command gets what plain gosu gives it there
// (Go's runtime opens /dev/null for them): no descriptor of the parent's
// (the gate, the state it hands on, its pipes) takes their numbers.
func TestInitClosedStdio(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	g := strings.Join(withAccounts(bin+"/gosu"), " ")
	for _, mode := range []string{"", "--init"} {
		r := run(t, nil, "sh", "-c", "exec 0<&- 1>&- 2>&-; exec "+g+" "+mode+` app sh -c 'readlink /proc/$$/fd/0 /proc/$$/fd/2 > `+dir+`/fds; exit 7'`)
		fds, _ := os.ReadFile(dir + "/fds")
		if r.code != 7 || string(fds) != "/dev/null\n/dev/null\n" {
			t.Errorf("gosu %s: exit %d (want 7); the command's fd 0 and 2: %q (want /dev/null)", mode, r.code, fds)
		}
	}
}

// TestInitCPUs: the command runs on exactly the CPUs gosu was started on
// (taskset's list, or the test's own), though the parent binds its own
// threads while both images start (docs/init.md), with the caller's nice
// value and policy; the supervisor keeps one CPU of those, or the one there
// is. With --detach-tty the command starts in a session of its own, from
// the same parent.
func TestInitCPUs(t *testing.T) {
	needRoot(t)
	taskset := needTool(t, "taskset", "util-linux")
	chrt := needTool(t, "chrt", "util-linux")
	cpus := ownCPUs(t)
	lists := []string{""} // the test's own
	if n := len(cpus); n >= 2 {
		lists = append(lists, strconv.Itoa(cpus[n-2])+","+strconv.Itoa(cpus[n-1]), strconv.Itoa(cpus[0]))
		if n >= 3 {
			lists = append(lists, strconv.Itoa(cpus[0])+","+strconv.Itoa(cpus[n-1])) // not contiguous
		}
	} else {
		t.Logf("only CPU %v here: the parent binds nothing (with two or more it does)", cpus)
	}
	for _, c := range initCases(t) {
		if !c.ours {
			continue
		}
		for _, extra := range [][]string{nil, {"--detach-tty"}} {
			for _, list := range lists {
				// SCHED_BATCH (3), nice 5: fields 19 and 41 of /proc/PID/stat.
				prefix := []string{chrt, "-b", "0", "nice", "-n", "5"}
				if list != "" {
					prefix = append(prefix, taskset, "-c", list)
				}
				name := strings.Join(append([]string{c.name}, extra...), " ")
				want := run(t, nil, append(prefix, "grep", "^Cpus_allowed_list:", "/proc/self/status")...)
				caller := cpuList(t, strings.TrimPrefix(strings.TrimSpace(want.stdout), "Cpus_allowed_list:"))
				r := run(t, nil, append(prefix, c.argv(extra, "app", "sh", "-c",
					`grep -h "^Cpus_allowed_list:" /proc/$$/status /proc/$PPID/status; cut -d" " -f19,41 /proc/$$/stat`)...)...)
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if r.code != 0 || len(lines) != 3 {
					t.Errorf("%s on %q: exit %d, stdout %q, stderr %q", name, list, r.code, r.stdout, r.stderr)
					continue
				}
				if lines[0] != strings.TrimSpace(want.stdout) {
					t.Errorf("%s on %q: the command has %q, want the caller's %q", name, list, lines[0], want.stdout)
				}
				super := cpuList(t, strings.TrimPrefix(lines[1], "Cpus_allowed_list:"))
				if len(super) != 1 || !slices.Contains(caller, super[0]) {
					t.Errorf("%s on %q: the supervisor has %q, want one CPU of the caller's %v", name, list, lines[1], caller)
				}
				if lines[2] != "5 3" {
					t.Errorf("%s on %q: the command's nice and policy are %q, want the caller's \"5 3\"", name, list, lines[2])
				}
			}
		}
	}
}

// ownCPUs lists the CPUs the test may run on.
func ownCPUs(t *testing.T) []int {
	t.Helper()
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for c := 0; c < 1024; c++ {
		if own.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// cpuList reads the kernel's list format: "0-3,5".
func cpuList(t *testing.T, s string) []int {
	t.Helper()
	var cpus []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			t.Fatalf("not a CPU list: %q", s)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}
