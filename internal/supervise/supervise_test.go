package supervise

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/signame"
	"gosu/internal/testenv"
)

// The test binary doubles as a supervising parent: with SUPERVISE_CONFIG
// set it runs Run with that configuration (JSON) and exits with its status,
// so the tests watch a real parent from outside, as gosu's would be. Run
// execs the test binary again as the supervisor (Resume), and the child it
// starts is the test binary too, standing in for the fresh gosu: it waits
// at the gate (AwaitParent), then execs the command in argv. With
// SUPERVISE_BLOCK=N,... the child blocks those signals first, so that the
// command and what it starts inherit them blocked.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "--"+ResumeOption+"=") {
		os.Exit(Resume(os.Args))
	}
	if args, gate, err := TakeSync(os.Args); gate >= 0 || err != nil {
		if err == nil {
			err = AwaitParent(gate)
		}
		if err == nil {
			err = blockFromEnv()
		}
		if err == nil {
			err = syscall.Exec(args[1], args[1:], os.Environ())
		}
		os.Stderr.WriteString("test child: " + err.Error() + "\n")
		os.Exit(97)
	}
	if n, ok := strings.CutPrefix(strings.Join(os.Args[1:], " "), "--spawn="); ok {
		os.Exit(spawn(n))
	}
	if len(os.Args) == 4 && os.Args[1] == "--seize" {
		os.Exit(seize(os.Args[2], os.Args[3]))
	}
	if cfg := os.Getenv("SUPERVISE_CONFIG"); cfg != "" {
		runtime.LockOSThread()
		var c Config
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(99)
		}
		if c.Env == nil {
			c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		}
		status, err := Run(c)
		if err != nil {
			os.Stderr.WriteString("error: " + err.Error() + "\n")
			os.Exit(98)
		}
		os.Exit(status)
	}
	os.Exit(m.Run())
}

// spawn is a command that leaves N sleeps behind, each in a session of its
// own (so that only a parent that lists its children reaches them) and
// with SIGTERM blocked (so that a SIGTERM sent shows as pending in their
// /proc/PID/status rather than ending them), and exits.
func spawn(n string) int {
	count, err := strconv.Atoi(n)
	if err != nil {
		return 96
	}
	runtime.LockOSThread()
	var term unix.Sigset_t
	sigAdd(&term, int(unix.SIGTERM))
	// The mask this thread has when it forks is the children's.
	unix.PthreadSigmask(unix.SIG_BLOCK, &term, nil)
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}}
	var pids []byte
	for range count {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "1000"}, attr)
		if err != nil {
			os.Stderr.WriteString("spawn: " + err.Error() + "\n")
			return 95
		}
		pids = strconv.AppendInt(append(pids, ' '), int64(pid), 10)
	}
	// For the test's clean-up, whatever becomes of the init.
	if err := os.WriteFile(os.Getenv("SUPERVISE_PIDS"), pids, 0o644); err != nil {
		return 94
	}
	return 0
}

// seize attaches to the process pid as its tracer (PTRACE_SEIZE, which
// does not stop it), says so in the file ready ("EPERM" when the kernel
// refuses), and holds it for a second and a half without ever waiting for
// it: when it exits, its zombie is the tracer's to report first.
func seize(pid, ready string) int {
	runtime.LockOSThread() // a tracer is a thread
	n, _ := strconv.Atoi(pid)
	msg := "seized\n"
	if err := unix.PtraceSeize(n); err != nil {
		msg = "EPERM\n"
	}
	os.WriteFile(ready, []byte(msg), 0o644)
	time.Sleep(1500 * time.Millisecond)
	return 0
}

// blockFromEnv blocks the signals SUPERVISE_BLOCK lists, on this thread,
// which then execs.
func blockFromEnv() error {
	list := os.Getenv("SUPERVISE_BLOCK")
	if list == "" {
		return nil
	}
	var set unix.Sigset_t
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		sigAdd(&set, n)
	}
	runtime.LockOSThread()
	return unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
}

func need(t *testing.T, ok bool, why string) {
	t.Helper()
	testenv.Need(t, ok, why)
}

func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "a supervising parent signals and reaps other users' processes")
}

// parent is a supervising parent started from the test.
type parent struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// testBinary is this test binary, which stands in for the fresh gosu.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// sh returns a Config that runs sh -c script as the command, through the
// test binary standing in for the fresh gosu.
func sh(t *testing.T, script string) Config {
	return Config{Path: testBinary(t), Argv: []string{"gosu-child", "/bin/sh", "-c", script}, Name: "gosu", Grace: 5 * time.Second}
}

// startParent starts the parent for c, under wrap (e.g. unshare) if given.
func startParent(t *testing.T, c Config, wrap ...string) *parent {
	t.Helper()
	return startParentFiles(t, c, nil, wrap...)
}

func startParentFiles(t *testing.T, c Config, extra []*os.File, wrap ...string) *parent {
	t.Helper()
	cfg, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, wrap...), exe)
	p := &parent{cmd: exec.Command(argv[0], argv[1:]...)}
	p.cmd.Env = append(os.Environ(), "SUPERVISE_CONFIG="+string(cfg))
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.ExtraFiles = extra
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// wait waits for the parent (at most d) and returns its exit status, or
// 128+N when it died of signal N.
func (p *parent) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("the parent did not exit within %v; stdout %q stderr %q", d, p.stdout.String(), p.stderr.String())
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func runParent(t *testing.T, c Config, wrap ...string) (int, string, string) {
	t.Helper()
	p := startParent(t, c, wrap...)
	code := p.wait(t, 20*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// pidNS runs the parent as PID 1 of a new PID namespace.
func pidNS(t *testing.T) []string {
	t.Helper()
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	need(t, err == nil, "needs unshare (util-linux)")
	return []string{unshare, "-fp", "--mount-proc"}
}

// modes are the two places an init runs: as PID 1, and as a plain child
// (a subreaper).
func modes(t *testing.T) map[string][]string {
	m := map[string][]string{"child": nil}
	if os.Geteuid() == 0 {
		m["pid1"] = pidNS(t)
	}
	return m
}

func TestExitStatus(t *testing.T) {
	for name, wrap := range modes(t) {
		for _, tc := range []struct {
			script string
			want   int
		}{
			{"exit 0", 0}, {"exit 1", 1}, {"exit 2", 2}, {"exit 42", 42}, {"exit 127", 127}, {"exit 255", 255},
			{"kill -TERM $$", 143}, {"kill -KILL $$", 137},
		} {
			c := sh(t, tc.script)
			c.Init = true
			if code, _, stderr := runParent(t, c, wrap...); code != tc.want {
				t.Errorf("%s: %q: status %d, want %d (stderr %q)", name, tc.script, code, tc.want, stderr)
			}
		}
	}
}

func TestSuccessCodes(t *testing.T) {
	c := sh(t, "exit 3")
	c.Init, c.Success = true, []int{3, 143}
	if code, _, _ := runParent(t, c); code != 0 {
		t.Errorf("exit 3 with Success [3 143]: %d, want 0", code)
	}
	c = sh(t, "kill -TERM $$")
	c.Init, c.Success = true, []int{143}
	if code, _, _ := runParent(t, c); code != 0 {
		t.Errorf("TERM with Success [143]: %d, want 0", code)
	}
	c = sh(t, "exit 4")
	c.Init, c.Success = true, []int{3}
	if code, _, _ := runParent(t, c); code != 4 {
		t.Errorf("exit 4 with Success [3]: %d, want 4", code)
	}
}

// TestRunErrorWraps: the error Run returns for a child that cannot be
// started unwraps to the kernel's answer (ENOENT is fs.ErrNotExist).
func TestRunErrorWraps(t *testing.T) {
	// In this process: not Init, which would make the test a subreaper.
	_, err := Run(Config{Path: "/no/such/gosu", Argv: []string{"gosu"}, NewSession: true, Name: "gosu"})
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Run: %v; want it to unwrap to ENOENT", err)
	}
}

func TestStartFailure(t *testing.T) {
	c := Config{Path: "/no/such/gosu", Argv: []string{"gosu"}, Init: true, Name: "gosu"}
	code, _, stderr := runParent(t, c)
	if code != 98 || stderr != "error: --init: starting gosu again as /no/such/gosu: no such file or directory\n" {
		t.Errorf("status %d, stderr %q", code, stderr)
	}
}

// waitFile waits for path to exist and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestForwardSignals: each signal sent to the init ends a sleep that has no
// handler with 128+N; as PID 1 too.
func TestForwardSignals(t *testing.T) {
	for name, wrap := range modes(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT, syscall.SIGALRM, 40} {
			dir := t.TempDir()
			// exec, so that the sleep is the child: sh would ignore INT
			// and QUIT for an asynchronous command.
			c := sh(t, "echo $$ > "+dir+"/pid; exec sleep 100")
			c.Init = true
			p := startParent(t, c, wrap...)
			waitFile(t, dir+"/pid")
			time.Sleep(50 * time.Millisecond) // the exec
			initPID := p.cmd.Process.Pid
			if wrap != nil {
				initPID = nsInit(t, p.cmd.Process.Pid)
			}
			syscall.Kill(initPID, sig)
			if code := p.wait(t, 10*time.Second); code != 128+int(sig) {
				t.Errorf("%s: %v: status %d, want %d", name, sig, code, 128+int(sig))
			}
		}
	}
}

// nsInit finds PID 1 of the namespace unshare created: its child.
func nsInit(t *testing.T, unsharePID int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(unsharePID) + "/task/" + strconv.Itoa(unsharePID) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatal("no PID 1 under unshare")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReapOrphans: a burst of orphans leaves no zombie behind, as PID 1
// and as a subreaper; the command's status is kept.
func TestReapOrphans(t *testing.T) {
	for name, wrap := range modes(t) {
		dir := t.TempDir()
		// 50 orphans that exit at once, then a look at what is left in the
		// init's children: no zombie.
		c := sh(t, `i=0; while [ $i -lt 50 ]; do (sleep 0.1 &) ; i=$((i+1)); done; sleep 1
			ppid=$(awk '{print $4}' /proc/$$/stat)
			for p in /proc/[0-9]*; do
				s=$(cat $p/stat 2>/dev/null) || continue
				set -- ${s##*) }
				[ "$2" = "$ppid" ] && [ "$1" = Z ] && echo zombie ${p#/proc/}
			done > `+dir+`/zombies; exit 7`)
		c.Init = true
		code, _, stderr := runParent(t, c, wrap...)
		z, _ := os.ReadFile(dir + "/zombies")
		if code != 7 || len(z) != 0 {
			t.Errorf("%s: status %d (want 7), zombies %q, stderr %q", name, code, z, stderr)
		}
	}
}

// TestLeftoversGetTERM: a process the command left behind gets SIGTERM
// when the command exits, and its clean exit (a marker written on TERM) is
// waited for; the command's status is kept.
func TestLeftoversGetTERM(t *testing.T) {
	for name, wrap := range modes(t) {
		dir := t.TempDir()
		c := sh(t, `setsid sh -c 'trap "echo clean > `+dir+`/marker; exit 0" TERM; echo > `+dir+`/ready; while :; do sleep 0.05; done' &
			while [ ! -s `+dir+`/ready ]; do sleep 0.01; done; exit 5`)
		c.Init = true
		start := time.Now()
		code, _, stderr := runParent(t, c, wrap...)
		m, _ := os.ReadFile(dir + "/marker")
		if code != 5 || string(m) != "clean\n" || strings.Contains(stderr, "SIGKILL") || time.Since(start) > 4*time.Second {
			t.Errorf("%s: status %d (want 5), marker %q, stderr %q, took %v", name, code, m, stderr, time.Since(start))
		}
	}
}

// TestLeftoversTERMOnce: a leftover that catches SIGTERM and goes on gets
// it once during the grace period, as PID 1 too (where the init used to
// send kill(-1, SIGTERM) every 50 ms: 20 of them in a second).
func TestLeftoversTERMOnce(t *testing.T) {
	for name, wrap := range modes(t) {
		dir := t.TempDir()
		c := sh(t, `setsid sh -c 'n=0; trap "n=\$((n+1)); echo \$n > `+dir+`/count" TERM; echo > `+dir+`/ready; while :; do sleep 0.02 || :; done' &
			while [ ! -s `+dir+`/ready ]; do sleep 0.01; done; exit 5`)
		c.Init, c.Grace = true, time.Second
		code, _, stderr := runParent(t, c, wrap...)
		n, _ := os.ReadFile(dir + "/count")
		if code != 5 || string(n) != "1\n" {
			t.Errorf("%s: status %d (want 5), SIGTERM count %q (want 1), stderr %q", name, code, n, stderr)
		}
	}
}

// TestLeftoversGetKILL: a leftover that ignores SIGTERM gets SIGKILL after
// the grace period, and gosu says so.
func TestLeftoversGetKILL(t *testing.T) {
	for name, wrap := range modes(t) {
		dir := t.TempDir()
		c := sh(t, `setsid sh -c 'trap "" TERM; echo > `+dir+`/ready; while :; do sleep 0.05; done' &
			while [ ! -s `+dir+`/ready ]; do sleep 0.01; done; exit 6`)
		c.Init, c.Grace = true, 300*time.Millisecond
		start := time.Now()
		code, _, stderr := runParent(t, c, wrap...)
		took := time.Since(start)
		if code != 6 || stderr != "gosu: --init: processes left by the command were still running 300 ms after SIGTERM; sending SIGKILL\n" || took < 300*time.Millisecond || took > 3*time.Second {
			t.Errorf("%s: status %d (want 6), stderr %q, took %v", name, code, stderr, took)
		}
	}
}

// TestParentLockedDown: the parent keeps uid 0, CAP_KILL alone,
// no_new_privs, and no inherited descriptor.
func TestParentLockedDown(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "inherited"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := sh(t, "readlink /proc/$$/fd/3 > "+dir+"/childfd; echo > "+dir+"/ready; exec sleep 100")
	c.Init = true
	p := startParentFiles(t, c, []*os.File{f})
	waitFile(t, dir+"/ready")
	pid := strconv.Itoa(p.cmd.Process.Pid)
	// The command keeps the inherited descriptor; the parent holds only
	// stdio, its self-pipe, its signalfd and the command's pidfd (the gate closed at the
	// command's exec).
	if b, _ := os.ReadFile(dir + "/childfd"); string(b) != f.Name()+"\n" {
		t.Errorf("the command's fd 3 is %q, want %s", b, f.Name())
	}
	ents, _ := os.ReadDir("/proc/" + pid + "/fd")
	var links []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/" + pid + "/fd/" + e.Name())
		links = append(links, e.Name()+"->"+l)
		// Go's runtime (1.25+) keeps the cgroup CPU limit files open.
		if n, _ := strconv.Atoi(e.Name()); n > 2 && !strings.HasPrefix(l, "pipe:") && l != "anon_inode:[signalfd]" && l != "anon_inode:[pidfd]" && !strings.HasPrefix(l, "/sys/fs/cgroup/") {
			t.Errorf("the parent holds fd %s -> %s", e.Name(), l)
		}
	}
	if pipes := strings.Count(strings.Join(links, " "), "pipe:"); pipes != 4 {
		t.Errorf("the parent's descriptors: %q, want stdio, the self-pipe and a signalfd", links)
	}
	// The parent locks itself down just after starting the child.
	var status []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if status, _ = os.ReadFile("/proc/" + pid + "/status"); bytes.Contains(status, []byte("NoNewPrivs:\t1\n")) {
			break
		}
	}
	for _, want := range []string{"Uid:\t0\t0\t0\t0", "CapInh:\t0000000000000000", "CapPrm:\t0000000000000020", "CapEff:\t0000000000000020", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want+"\n") {
			t.Errorf("parent lacks %q:\n%s", want, status)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
}

// TestParentNoCoreDump: the parent dumps no core, whatever the caller's
// limit: the command could otherwise make the root parent write its memory
// to the working directory (kill -QUIT $$ under --pty, which re-raises it).
// The command keeps the caller's limit.
func TestParentNoCoreDump(t *testing.T) {
	needRoot(t)
	prlimit, err := exec.LookPath("prlimit")
	need(t, err == nil, "needs prlimit (util-linux)")
	dir := t.TempDir()
	c := sh(t, "grep '^Max core file size' /proc/$$/limits > "+dir+"/limits; exec sleep 100")
	c.Init = true
	p := startParent(t, c, prlimit, "--core=unlimited:unlimited")
	child := waitFile(t, dir+"/limits")
	pid := strconv.Itoa(p.cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); statusField(p.cmd.Process.Pid, "NoNewPrivs") != "1" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	limits, _ := os.ReadFile("/proc/" + pid + "/limits")
	if !strings.Contains(string(limits), "\nMax core file size        0                    0                    bytes") {
		t.Errorf("the parent's limits:\n%s", limits)
	}
	if !strings.HasPrefix(child, "Max core file size        unlimited            unlimited") {
		t.Errorf("the command's core limit: %q, want the caller's (unlimited)", child)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
}

// childrenOf lists pid's children, each /proc/PID/task/TID/children read
// whole.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil
	}
	var pids []int
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/children")
		pids = appendPIDs(pids, b)
	}
	return pids
}

// statusField returns a field of /proc/PID/status, or "" once the process
// is gone.
func statusField(pid int, field string) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestLeftoversAllGetTERM: 2,500 processes left behind, each in a session
// of its own, all get SIGTERM before any gets SIGKILL: the init reads its
// children files to the end (4 KiB of them named about 680) and lists them
// again until no new one appears. Their SIGTERM is blocked, so it shows as
// pending (ShdPnd) while they live on through the grace period; then they
// get SIGKILL and none is left.
func TestLeftoversAllGetTERM(t *testing.T) {
	needRoot(t)
	const n = 2500
	list := filepath.Join(t.TempDir(), "pids")
	c := Config{Path: testBinary(t), Argv: []string{"gosu-child", testBinary(t), "--spawn=" + strconv.Itoa(n)},
		Env: []string{"SUPERVISE_PIDS=" + list}, Name: "gosu", Init: true, Grace: 8 * time.Second}
	p := startParent(t, c)
	pid := p.cmd.Process.Pid
	var kids []int
	t.Cleanup(func() {
		b, _ := os.ReadFile(list)
		for _, k := range appendPIDs(nil, b) {
			syscall.Kill(k, syscall.SIGKILL)
		}
	})
	const term = 1 << (syscall.SIGTERM - 1)
	deadline := time.Now().Add(7 * time.Second)
	for {
		kids = childrenOf(t, pid)
		pending := 0
		for _, k := range kids {
			if v, err := strconv.ParseUint(statusField(k, "ShdPnd"), 16, 64); err == nil && v&term != 0 {
				pending++
			}
		}
		if len(kids) == n && pending == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d children of the init, %d with SIGTERM pending; want %d and %d before the grace period ends", len(kids), pending, n, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := p.wait(t, 20*time.Second); code != 0 || !strings.Contains(p.stderr.String(), "sending SIGKILL") {
		t.Errorf("status %d, stderr %q; want 0 and the SIGKILL message", code, p.stderr.String())
	}
	for _, k := range kids {
		if statusField(k, "State") != "" {
			t.Errorf("leftover %d still exists after the init exited", k)
			break
		}
	}
}

// TestThreadsBlockSignals: every thread of the supervisor blocks every
// signal it reads from its signalfd (USR1, USR2, PIPE, ALRM, CONT, TSTP,
// TTIN, TTOU, XCPU, XFSZ, VTALRM, WINCH, IO, PWR and 35-64), also after a
// storm of signals and a garbage collection made the runtime busy, so that
// no Go handler can take one and drop it. The others it catches through
// os/signal.
func TestThreadsBlockSignals(t *testing.T) {
	dir := t.TempDir()
	c := sh(t, "trap '' USR1 USR2 WINCH; echo > "+dir+"/ready; while :; do sleep 0.05; done")
	c.Init = true
	p := startParent(t, c)
	waitFile(t, dir+"/ready")
	pid := p.cmd.Process.Pid
	var want uint64
	for n := 1; n <= 64; n++ {
		switch sig := syscall.Signal(n); {
		case !forwarded(sig), sig == syscall.SIGHUP, sig == syscall.SIGINT, sig == syscall.SIGQUIT,
			sig == syscall.SIGABRT, sig == syscall.SIGTERM, sig == signame.Parse("STKFLT"), sig == syscall.SIGCHLD: // no STKFLT on mips: 0
		default:
			want |= 1 << (n - 1)
		}
	}
	check := func(when string) {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if len(tasks) < 2 {
			t.Fatalf("%s: %d threads", when, len(tasks))
		}
		for _, task := range tasks {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/status")
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "SigBlk:\t"); ok {
					if blk, _ := strconv.ParseUint(v, 16, 64); blk&want != want {
						t.Errorf("%s: thread %s blocks %016x, lacks %016x", when, task.Name(), blk, want&^blk)
					}
				}
			}
		}
	}
	check("at start")
	for range 2000 {
		syscall.Kill(pid, syscall.SIGUSR1)
		syscall.Kill(pid, syscall.SIGWINCH)
		syscall.Kill(pid, syscall.SIGUSR2)
	}
	time.Sleep(200 * time.Millisecond)
	check("after 6,000 signals")
	syscall.Kill(pid, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 143 {
		t.Errorf("status %d after TERM, want 143", code)
	}
}

// TestStateRoundTrip: what Run hands to Resume reads back the same, every
// field set; a short or missing state, or a state without a child or a
// gate, is refused.
func TestStateRoundTrip(t *testing.T) {
	pass := func(st *state, n int) (state, bool) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Write(p[1], st.bytes()[:n])
		unix.Close(p[1])
		return readState([]string{"gosu", "--" + ResumeOption + "=" + strconv.Itoa(p[0])})
	}
	st := state{pid: 7, pidfd: 8, gate: 9, master: 10, relayTerm: 11, relayOut: 12, initTerm: 13, flags: 14, graceMS: 15}
	for _, code := range []int{0, 3, 143, 255} {
		st.success[code/8] |= 1 << (code % 8)
	}
	if got, ok := pass(&st, len(st.bytes())); !ok || got != st || !got.succeeds(143) || got.succeeds(142) {
		t.Errorf("round trip: %+v, %v; want %+v", got, ok, st)
	}
	if _, ok := pass(&st, len(st.bytes())-1); ok {
		t.Error("a short state was accepted")
	}
	bad := state{pid: 0, gate: 9}
	if _, ok := pass(&bad, len(bad.bytes())); ok {
		t.Error("a state without a child was accepted")
	}
	for _, args := range [][]string{{"gosu"}, {"gosu", "--" + ResumeOption + "=x"}, {"gosu", "--" + ResumeOption + "=2"}} {
		if _, ok := readState(args); ok {
			t.Errorf("readState(%q) accepted", args)
		}
	}
}

// TestAppendPIDs: the children file's format, whatever the spacing.
func TestAppendPIDs(t *testing.T) {
	if got := appendPIDs(nil, []byte("12 345 6\n")); !reflect.DeepEqual(got, []int{12, 345, 6}) {
		t.Errorf("appendPIDs = %v", got)
	}
	if got := appendPIDs([]int{1}, []byte("")); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("appendPIDs of nothing = %v", got)
	}
}

// cpuTicks is the user and system time pid has used, in clock ticks
// (/proc/PID/stat, fields 14 and 15).
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// TestTracedCommandExit: the command's own child ptraces it and holds its
// zombie after it exits, without waiting for it. The command's pidfd is
// then readable while waitid shows the parent nothing; the parent used to
// poll it again at once and spin a CPU (a second of CPU time per second)
// until the tracer let go. It must idle, then report the status once the
// tracer exits.
func TestTracedCommandExit(t *testing.T) {
	dir := t.TempDir()
	// The command waits without a child of its own to end (a SIGCHLD
	// would stop it for a tracer that never continues it).
	c := sh(t, `"$0" --seize $$ `+dir+`/ready & while [ ! -s `+dir+`/ready ]; do :; done; exit 3`)
	c.Argv = append(c.Argv, testBinary(t))
	c.Init = true
	p := startParent(t, c)
	if got := waitFile(t, dir+"/ready"); got != "seized\n" {
		p.wait(t, 10*time.Second)
		need(t, false, "the kernel refuses PTRACE_SEIZE of the command by its child here (Yama?)")
	}
	time.Sleep(200 * time.Millisecond) // the command exits, the tracer holds it
	before := cpuTicks(t, p.cmd.Process.Pid)
	time.Sleep(time.Second)
	// A spinning parent uses about 100 ticks a second, less on a busy
	// machine; an idle one none.
	if used := cpuTicks(t, p.cmd.Process.Pid) - before; used > 20 {
		t.Errorf("the parent used %d clock ticks of CPU in a second while the command's exit was held by a tracer", used)
	}
	if code := p.wait(t, 10*time.Second); code != 3 {
		t.Errorf("status %d, want 3 (stderr %q)", code, p.stderr.String())
	}
}

// TestReapBounded: one reap pass collects at most 256 children and says
// there are more, which makes the loop come back at once (poll timeout 0),
// and the next pass collects the rest. Orphans that fork and exit as fast
// as they are collected (16 such loops, in C, left by a command) kept the
// unbounded pass going for good: the init forwarded no SIGTERM and never
// ended its grace period.
func TestReapBounded(t *testing.T) {
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
	keep, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "100"}, attr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(keep, syscall.SIGKILL)
		syscall.Wait4(keep, nil, 0, nil)
	}()
	var kids []int
	for range 300 {
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, attr)
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, pid)
	}
	for _, pid := range kids { // all zombies
		var si unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := newSupervisor(state{pid: keep, pidfd: -1, gate: -1, master: -1, initTerm: -1, flags: flagInit}, "gosu")
	s.reap()
	left := 0
	for _, pid := range kids {
		if statusField(pid, "State") != "" {
			left++
		}
	}
	if !s.more || left != 300-256 || s.timeout(time.Now()) != 0 {
		t.Errorf("after one pass: more %v, %d of 300 zombies left (want 44), poll timeout %d (want 0)", s.more, left, s.timeout(time.Now()))
	}
	s.reap()
	for _, pid := range kids {
		if statusField(pid, "State") != "" {
			t.Errorf("zombie %d left after the second pass", pid)
		}
	}
	if s.more || !s.children || s.exited {
		t.Errorf("after the second pass: more %v, children %v (the sleep), exited %v", s.more, s.children, s.exited)
	}
}

// TestRuntimeSignalsOneRead: the self-pipe is read once a call (what is
// left makes poll return at once), and however many SIGCHLD that read
// holds, they make one reap pass. The old loop read until the pipe was
// empty, which a storm of SIGCHLD never let happen.
func TestRuntimeSignalsOneRead(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.Write(p[1], bytes.Repeat([]byte{byte(syscall.SIGCHLD)}, 1000))
	s := newSupervisor(state{pid: 1 << 22, pidfd: -1, gate: -1, master: -1, initTerm: -1}, "gosu")
	s.sigR, s.children = p[0], true
	s.runtimeSignals()
	// The kernel writes an int: 32 bits, also on 64-bit big-endian s390x
	// (where IoctlGetInt would read them as the high half).
	n, _ := unix.IoctlGetUint32(p[0], unix.TIOCINQ)
	if n != 1000-128 || s.children {
		t.Errorf("%d bytes left in the pipe (want 872); children %v (want false: one reap pass, ECHILD for a PID that is no child)", n, s.children)
	}
}
