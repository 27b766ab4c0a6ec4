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
func (c *container) configure(t *testing.T, args ...string) {
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
	process := cfg["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = args
	process["noNewPrivileges"] = false // as Docker
	process["capabilities"] = map[string]any{
		"bounding": dockerCaps, "effective": dockerCaps, "permitted": dockerCaps, "inheritable": dockerCaps,
	}
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
	c.configure(t, args...)
	id := "gosu-e2e-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := exec.Command(c.runc, "run", "--bundle", c.dir, id)
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
		exec.Command(c.runc, "delete", "-f", id).Run()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("runc stderr: %s", stderr.String())
		}
	})
	return cmd, bufio.NewReader(stdout), id
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
