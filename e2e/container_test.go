package e2e

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerCaps is Docker's default capability set, which a runc bundle needs
// (runc's own default lacks CAP_SETUID and CAP_SETGID).
var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// dockerCapMask is dockerCaps as /proc/<pid>/status prints it.
const dockerCapMask = "00000000a80425fb"

// container is a runc bundle: a busybox root file system with the built gosu
// and probe in /usr/local/bin and the fixture accounts in /etc.
type container struct {
	runc, dir string
}

func newContainer(t *testing.T) *container {
	t.Helper()
	needRoot(t)
	c := &container{runc: needTool(t, "runc", "runc"), dir: t.TempDir()}
	busybox := needTool(t, "busybox", "busybox-static")
	f, err := elf.Open(busybox)
	need(t, err == nil && !hasInterp(f), "needs a static busybox (apt-get install busybox-static)")
	f.Close()

	root := filepath.Join(c.dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "usr/local/bin", "proc", "dev", "sys", "home/app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	copyFile(t, busybox, filepath.Join(root, "bin/busybox"))
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyFile(t, bin+"/gosu", filepath.Join(root, "usr/local/bin/gosu"))
	copyFile(t, bin+"/probe", filepath.Join(root, "usr/local/bin/probe"))
	copyFile(t, bin+"/tiocsti", filepath.Join(root, "usr/local/bin/tiocsti"))
	copyFile(t, accounts+"/passwd", filepath.Join(root, "etc/passwd"))
	copyFile(t, accounts+"/group", filepath.Join(root, "etc/group"))

	spec := exec.Command(c.runc, "spec")
	spec.Dir = c.dir
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	return c
}

func hasInterp(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// configure writes config.json for a container running args as PID 1 with
// Docker's default capabilities, granted as inheritable too (as runc did
// before CVE-2022-24769), so that clearing them is visible.
func (c *container) configure(t *testing.T, terminal bool, args ...string) {
	t.Helper()
	c.edit(t, func(cfg map[string]any) {
		process := cfg["process"].(map[string]any)
		process["terminal"] = terminal
		process["args"] = args
		process["noNewPrivileges"] = false // as Docker
		process["capabilities"] = map[string]any{
			"bounding": dockerCaps, "effective": dockerCaps, "permitted": dockerCaps, "inheritable": dockerCaps,
		}
	})
}

// edit changes the bundle's config.json.
func (c *container) edit(t *testing.T, change func(cfg map[string]any)) {
	t.Helper()
	path := filepath.Join(c.dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	change(cfg)
	if data, err = json.MarshalIndent(cfg, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs the container in the foreground of a runc process, and makes
// sure it is deleted when the test ends, whatever happens.
func (c *container) start(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, string) {
	t.Helper()
	c.configure(t, false, args...)
	id := c.id() + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := exec.Command(c.runc, "run", "--bundle", c.dir, id)
	c.cleanup(t, id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("runc stderr: %s", stderr.String())
		}
	})
	return cmd, bufio.NewReader(stdout), id
}

func (c *container) id() string {
	return "gosu-e2e-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// cleanup deletes the container when the test ends, whatever happens.
func (c *container) cleanup(t *testing.T, id string) {
	t.Cleanup(func() { exec.Command(c.runc, "delete", "-f", id).Run() })
}

// runTerminal runs args as PID 1 of a container that has a terminal, as
// "docker run -t" gives: runc makes a pseudo-terminal the controlling
// terminal of PID 1, which leads its session. script(1) stands in for the
// person at the other end. It returns the output with lines ending in \n.
func (c *container) runTerminal(t *testing.T, args ...string) result {
	t.Helper()
	script := needTool(t, "script", "bsdutils")
	c.configure(t, true, args...)
	id := c.id()
	c.cleanup(t, id)
	cmd := exec.Command(script, "-qec", c.runc+" run --bundle "+c.dir+" "+id, "/dev/null")
	out, err := cmd.Output()
	// The terminal echoes a NUL that runc writes first as "^@".
	text := strings.TrimPrefix(strings.ReplaceAll(string(out), "\r\n", "\n"), "^@")
	r := result{stdout: text, probe: map[string]string{}}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.probe[k] = v
		}
	}
	return r
}

// probe runs the probe as the container's PID 1 through args and returns its
// report and exit status.
func (c *container) probe(t *testing.T, args ...string) result {
	t.Helper()
	cmd, out, _ := c.start(t, args...)
	var r result
	r.probe = map[string]string{}
	for {
		line, err := out.ReadString('\n')
		r.stdout += line
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			r.probe[k] = v
		}
		if err != nil {
			break
		}
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestContainer(t *testing.T) {
	c := newContainer(t)

	// The baseline: the container really hands PID 1 Docker's capabilities,
	// inheritable ones included.
	c.probe(t, "probe").expect(t, "probe as root", map[string]string{
		"pid": "1", "Uid": "0 0 0 0", "CapInh": dockerCapMask, "CapPrm": dockerCapMask, "CapBnd": dockerCapMask,
	})

	// gosu as the entrypoint: the probe is PID 1, as app, with no capability
	// left but the bounding set.
	c.probe(t, "gosu", "app", "probe").expect(t, "gosu app probe", map[string]string{
		"pid": "1", "ppid": "0", "Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "50 100",
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "CapBnd": dockerCapMask,
		"env.HOME": "/home/app", "arg0": "probe",
	})
	c.probe(t, "gosu", "nobody:games", "probe").expect(t, "gosu nobody:games probe", map[string]string{
		"pid": "1", "Uid": "65534 65534 65534 65534", "Gid": "60 60 60 60", "Groups": "", "CapInh": noCaps,
	})
	r := c.probe(t, "gosu", "evil1", "probe")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("gosu evil1 probe in the container: exit %d, stdout %q; want exit 1 and nothing run", r.code, r.stdout)
	}
}

// TestContainerSignals: runc kill TERM reaches a trapping shell that gosu
// exec'd as PID 1, running as app.
func TestContainerSignals(t *testing.T) {
	c := newContainer(t)
	cmd, out, id := c.start(t, "gosu", "app", "sh", "-c",
		`trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 1 & wait $!; done`)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("container said %q, %v", line, err)
	}
	state, err := exec.Command(c.runc, "state", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(state, &st); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name:\tsh\n", "Uid:\t1000\t1000\t1000\t1000\n", "CapEff:\t" + noCaps + "\n"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("the container's init lacks %q:\n%s", want, status)
		}
	}
	if out, err := exec.Command(c.runc, "kill", id, "TERM").CombinedOutput(); err != nil {
		t.Fatalf("runc kill: %v %s", err, out)
	}
	rest, _ := out.ReadString(0)
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if rest != "got TERM\n" || ws.ExitStatus() != 7 {
		t.Errorf("after runc kill TERM: output %q, %v; want \"got TERM\" and exit 7", rest, err)
	}
}

// TestContainerHardening: the capability, no_new_privs and detach options
// with gosu as PID 1 under Docker's default capabilities.
func TestContainerHardening(t *testing.T) {
	c := newContainer(t)
	c.probe(t, "gosu", "--keep-caps=net_bind_service", "--drop-bounding", "--no-new-privs", "app", "probe").expect(t, "hardened", map[string]string{
		"pid": "1", "Uid": "1000 1000 1000 1000", "CapInh": netBindService, "CapPrm": netBindService,
		"CapEff": netBindService, "CapAmb": netBindService, "CapBnd": netBindService, "NoNewPrivs": "1",
	})
	c.probe(t, "gosu", "--no-new-privs", "nobody", "probe").expect(t, "--no-new-privs", map[string]string{
		"pid": "1", "NoNewPrivs": "1", "CapPrm": noCaps, "CapBnd": dockerCapMask,
	})
	// CAP_SYS_ADMIN is not in Docker's set: it cannot be kept.
	if r := c.probe(t, "gosu", "--keep-caps=sys_admin", "app", "probe"); r.code != 1 || r.stdout != "" {
		t.Errorf("--keep-caps=sys_admin in the container: exit %d, stdout %q; want exit 1 and nothing run", r.code, r.stdout)
	}
}

// TestContainerTerminal: in a container started with a terminal, plain gosu
// leaves the command on PID 1's terminal, where TIOCSTI works; with
// --detach-tty gosu, the session leader, keeps the terminal as a small
// parent and runs the command in a new session without one, where TIOCSTI
// fails.
func TestContainerTerminal(t *testing.T) {
	c := newContainer(t)
	r := c.runTerminal(t, "gosu", "app", "probe")
	if r.code != 0 || r.probe["pid"] != "1" || r.probe["sid"] != "1" || r.probe["tty_nr"] == "0" || r.probe["tty_nr"] == "" {
		t.Errorf("plain gosu: exit %d, pid %q, sid %q, tty_nr %q; want PID 1 leading its session, on a terminal: %q", r.code, r.probe["pid"], r.probe["sid"], r.probe["tty_nr"], r.stdout)
	}
	r = c.runTerminal(t, "gosu", "--detach-tty", "app", "probe")
	if r.code != 0 || r.probe["pid"] == "1" || r.probe["ppid"] != "1" || r.probe["sid"] != r.probe["pid"] || r.probe["tty_nr"] != "0" || r.probe["Uid"] != "1000 1000 1000 1000" {
		t.Errorf("--detach-tty: exit %d, pid %q, ppid %q, sid %q, tty_nr %q, uid %q; want a child of PID 1 leading a session with no terminal",
			r.code, r.probe["pid"], r.probe["ppid"], r.probe["sid"], r.probe["tty_nr"], r.probe["Uid"])
	}
	if r := c.runTerminal(t, "gosu", "--detach-tty", "app", "tiocsti"); r.code != 1 || !strings.Contains(r.stdout, "TIOCSTI-BLOCKED") {
		t.Errorf("--detach-tty: the attack was not refused: exit %d, %q", r.code, r.stdout)
	}
	legacy, err := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti")
	if err == nil && strings.TrimSpace(string(legacy)) == "1" {
		if r := c.runTerminal(t, "gosu", "app", "tiocsti"); r.code != 0 || strings.Contains(r.stdout, "TIOCSTI-BLOCKED") {
			t.Errorf("plain gosu: the attack should reach PID 1's terminal (the baseline): exit %d, %q", r.code, r.stdout)
		}
	}
}
