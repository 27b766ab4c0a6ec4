package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withTini adds Debian's static tini to the container as /usr/local/bin/tini,
// to run the same cases side by side.
func (c *container) withTini(t *testing.T) {
	t.Helper()
	tini := "/usr/bin/tini-static"
	if _, err := os.Stat(tini); err != nil {
		need(t, false, "needs tini-static (apt-get install tini)")
	}
	copyFile(t, tini, filepath.Join(c.dir, "rootfs/usr/local/bin/tini"))
}

// initPID is the container's PID 1 as the host sees it.
func (c *container) initPID(t *testing.T, id string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, err := exec.Command(c.runc, "state", id).Output()
		var st struct {
			Pid    int
			Status string
		}
		if err == nil && json.Unmarshal(state, &st) == nil && st.Status == "running" && st.Pid > 0 {
			return st.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never ran: %v %s", id, err, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContainerInit: gosu --init as the container's PID 1: the command is
// its child, as the user, with its own process group; statuses pass through
// as with tini; no zombie is left after a burst of orphans.
func TestContainerInit(t *testing.T) {
	c := newContainer(t)
	c.withTini(t)
	c.probe(t, "gosu", "--init", "app", "probe").expect(t, "gosu --init app probe", map[string]string{
		"ppid": "1", "Uid": "1000 1000 1000 1000", "CapPrm": noCaps, "SigIgn": "0000000000000000", "SigBlk": "0000000000000000",
	})
	for _, init := range [][]string{{"gosu", "--init", "app"}, {"tini", "--", "gosu", "app"}} {
		for _, tc := range []struct {
			script string
			want   int
		}{{"exit 0", 0}, {"exit 42", 42}, {"exit 255", 255}, {"kill -TERM $$", 143}, {orphanBurst, 7}} {
			r := c.probe(t, append(append([]string{}, init...), "sh", "-c", tc.script)...)
			if r.code != tc.want || r.stdout != "" {
				t.Errorf("%q: %q: exit %d, output %q; want %d and no zombie", init, tc.script, r.code, r.stdout, tc.want)
			}
		}
	}
}

// TestContainerInitStop: runc kill TERM ends gosu --init app sleep 100
// promptly with 143, as with tini; the init is the sleep's parent, with
// CAP_KILL alone.
func TestContainerInitStop(t *testing.T) {
	c := newContainer(t)
	c.withTini(t)
	for _, init := range [][]string{{"gosu", "--init", "app"}, {"tini", "--", "gosu", "app"}} {
		cmd, _, id := c.start(t, append(append([]string{}, init...), "sleep", "100")...)
		pid := c.initPID(t, id)
		child := firstChild(t, pid)
		// Wait for the exec of sleep.
		deadline := time.Now().Add(5 * time.Second)
		for {
			comm, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/comm")
			if string(comm) == "sleep\n" || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if init[0] == "gosu" {
			status := statusOf(t, pid, "CapEff:\t0000000000000020")
			for _, want := range []string{"Uid:\t0\t0\t0\t0", "CapEff:\t0000000000000020", "NoNewPrivs:\t1"} {
				if !strings.Contains(status, "\n"+want+"\n") {
					t.Errorf("the container's init lacks %q", want)
				}
			}
		}
		start := time.Now()
		if out, err := exec.Command(c.runc, "kill", id, "TERM").CombinedOutput(); err != nil {
			t.Fatalf("runc kill: %v %s", err, out)
		}
		err := cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if took := time.Since(start); ws.ExitStatus() != 143 || took > 2*time.Second {
			t.Errorf("%q: runc kill TERM: %v, exit %d after %v; want 143 at once", init, err, ws.ExitStatus(), took)
		}
	}
}

// TestContainerInitInteractive: under "terminal: true" the command is the
// terminal's foreground: an interactive shell as the user works, Ctrl-C
// interrupts its job and not the init, and its exit status is the
// container's.
func TestContainerInitInteractive(t *testing.T) {
	c := newContainer(t)
	s := newTmux(t)
	c.configure(t, true, "gosu", "--init", "app", "env", "PS1=C$ ", "sh", "-i")
	id := c.id()
	c.cleanup(t, id)
	s.line(c.runc + " run --bundle " + c.dir + " " + id + "; echo container=$?")
	s.waitFor(`^C\$ $`)
	// Fields 5 and 8 of its stat: the shell's process group, and the
	// terminal's foreground group (the job's, as the shell does job
	// control); neither is the init's.
	s.line("id -u; cut -d' ' -f5,8 /proc/$$/stat")
	p := s.waitFor(`^1000\n\d+ \d+\n`)
	if m := regexpFind(`(?m)^1000\n(\d+) (\d+)$`, p); m == nil || m[1] == "1" || m[2] == "1" {
		t.Errorf("the init, not the shell, has the terminal: %v", m)
	}
	s.line("sleep 100")
	time.Sleep(300 * time.Millisecond)
	s.send("C-c")
	s.waitFor(`^C\$ $`)
	s.line("echo rc=$?")
	s.waitFor(`^rc=130$`)
	s.line("exit 3")
	s.waitFor(`^container=3$`)
}

// TestContainerDetachLeader: in a container with a terminal, gosu is PID 1
// and leads its session; with --detach-tty the command runs in a new
// session under it, cannot take the terminal (TIOCSCTTY, then TIOCSTI),
// and starts with no signal ignored.
func TestContainerDetachLeader(t *testing.T) {
	c := newContainer(t)
	r := c.runTerminal(t, "gosu", "--detach-tty", "app", "probe")
	if r.code != 0 || r.probe["ppid"] != "1" || r.probe["sid"] != r.probe["pid"] || r.probe["tty_nr"] != "0" || r.probe["SigIgn"] != "0000000000000000" {
		t.Errorf("--detach-tty: exit %d, ppid %q, sid %q, pid %q, tty_nr %q, SigIgn %q", r.code, r.probe["ppid"], r.probe["sid"], r.probe["pid"], r.probe["tty_nr"], r.probe["SigIgn"])
	}
	r = c.runTerminal(t, "gosu", "--detach-tty", "app", "tiocsti", "sctty")
	if r.code != 1 || !strings.Contains(r.stdout, "TIOCSCTTY-BLOCKED: operation not permitted") || !strings.Contains(r.stdout, "TIOCSTI-BLOCKED") {
		t.Errorf("--detach-tty: TIOCSCTTY then TIOCSTI was not refused: exit %d, %q", r.code, r.stdout)
	}
}

// TestContainerInitCPUsetGrows: when the container's cpuset grows (runc
// update --cpuset-cpus, as docker update and Kubernetes' CPU manager resize
// one), the command under the supervising parent gets the new CPUs, as a
// plain gosu's does: the parent never binds the child it forks. Since Linux
// 6.2 sched_setaffinity also records the mask asked for, fork copies that
// record and exec keeps it, and the kernel confines every later cpuset
// change to it: a child once bound and given "the caller's CPUs" back kept
// the command on the first cpuset's CPUs for good (internal/supervise/cpu.go).
// It takes three CPUs: with two, the first cpuset must have both for the
// parent to bind anything, and then it cannot grow.
func TestContainerInitCPUsetGrows(t *testing.T) {
	cpus := ownCPUs(t)
	if len(cpus) < 3 {
		t.Skipf("needs three CPUs to grow a cpuset of two that the parent would bind within; this test has %v", cpus)
	}
	c := newContainer(t)
	first := cpus[:2]
	all := make([]string, len(cpus))
	for i, cpu := range cpus {
		all[i] = strconv.Itoa(cpu)
	}
	c.edit(t, func(cfg map[string]any) {
		resources := cfg["linux"].(map[string]any)["resources"].(map[string]any)
		resources["cpu"] = map[string]any{"cpus": all[0] + "," + all[1]}
	})
	grown := filepath.Join(c.dir, "rootfs/tmp/grown")
	report := `grep "^Cpus_allowed_list:" /proc/self/status; while [ ! -e /tmp/grown ]; do sleep 0.05; done; grep "^Cpus_allowed_list:" /proc/self/status`
	for _, args := range [][]string{
		{"gosu", "app", "sh", "-c", report},
		{"gosu", "--init", "app", "sh", "-c", report},                    // PID 1
		{"sh", "-c", "gosu --init app sh -c '" + report + "' || exit 1"}, // a subreaper
		{"gosu", "--init", "--detach-tty", "app", "sh", "-c", report},    // in a session of its own
	} {
		os.Remove(grown)
		cmd, out, id := c.start(t, args...)
		before, _ := out.ReadString('\n')
		if got := cpuList(t, strings.TrimPrefix(strings.TrimSpace(before), "Cpus_allowed_list:")); !slices.Equal(got, first) {
			t.Errorf("%q in a cpuset of %v: the command has %v", args, first, got)
		}
		if o, err := exec.Command(c.runc, "update", "--cpuset-cpus", strings.Join(all, ","), id).CombinedOutput(); err != nil {
			t.Fatalf("runc update --cpuset-cpus: %v %s", err, o)
		}
		if err := os.WriteFile(grown, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		after, _ := out.ReadString('\n')
		if got := cpuList(t, strings.TrimPrefix(strings.TrimSpace(after), "Cpus_allowed_list:")); !slices.Equal(got, cpus) {
			t.Errorf("%q: the cpuset grew from %v to %v, the command has %v", args, first, cpus, got)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}
