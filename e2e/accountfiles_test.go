package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Limits for commands reading hostile account files: gosu needs a few MiB
// and well under a second; a reader without limits takes gigabytes or
// blocks for ever. Over either limit, the command is killed.
const (
	rssLimitKiB = 256 << 10
	maxRSSKiB   = 48 << 10 // what a bounded run may have used at its peak
	timeLimit   = 10 * time.Second
)

// boundedResult is a result with the peak memory the kernel accounted.
type boundedResult struct {
	result
	maxRSSKiB int64
}

// runBounded runs argv like run, but kills it when it goes over
// rssLimitKiB or timeLimit, which fails the test.
func runBounded(t *testing.T, argv ...string) boundedResult {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("running %q: %v", argv, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeLimit)
	var killed string
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-deadline:
			killed = "still running after " + timeLimit.String()
		case <-tick.C:
			if rss := vmRSSKiB(cmd.Process.Pid); rss > rssLimitKiB {
				killed = "using " + strconv.FormatInt(rss, 10) + " KiB"
			}
		}
		if killed != "" {
			cmd.Process.Kill()
			<-done
			t.Fatalf("%q: killed, %s; stderr %q", argv, killed, stderr.String())
		}
	}
	r := boundedResult{result: result{stdout: stdout.String(), stderr: stderr.String(), probe: map[string]string{}}}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running %q: %v", argv, err)
	}
	r.code = cmd.ProcessState.ExitCode()
	r.maxRSSKiB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.probe[k] = v
		}
	}
	return r
}

// vmRSSKiB is a process's resident memory, or 0 once it is gone.
func vmRSSKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// gosuWith runs gosu with passwd and group bind-mounted over /etc's.
func gosuWith(t *testing.T, passwd, group string, args ...string) boundedResult {
	t.Helper()
	return runBounded(t, append([]string{bin + "/withaccounts", passwd, group, bin + "/gosu"}, args...)...)
}

// expectFailure checks that gosu said exactly want, exit 1, ran nothing, and
// stayed small.
func (r boundedResult) expectFailure(t *testing.T, what, want string) {
	t.Helper()
	if r.code != 1 || r.stderr != want+"\n" || r.stdout != "" {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", what, r.code, r.stdout, r.stderr, want)
	}
	if r.maxRSSKiB > maxRSSKiB {
		t.Errorf("%s: peak RSS %d KiB, want at most %d", what, r.maxRSSKiB, maxRSSKiB)
	}
}

func fixtureFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(accounts, name)
}

// writePublic writes a file every user can reach in a fresh public dir.
func writePublic(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(publicDir(t), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAccountFilesNotRegular: an account file that never ends (/dev/zero)
// or never opens (a FIFO without a writer) is a clear error at once, as is
// any other file that is not regular (/dev/null, a socket) rather than an
// empty file.
func TestAccountFilesNotRegular(t *testing.T) {
	needRoot(t)
	dir := publicDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	passwd, group := fixtureFile(t, "passwd"), fixtureFile(t, "group")
	for _, tc := range []struct{ path, kind string }{
		{"/dev/zero", "a character device"},
		{"/dev/null", "a character device"},
		{fifo, "a FIFO"},
		{sock, "a socket"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			pw := "/etc/passwd is not a regular file (" + tc.kind + ")"
			gr := "/etc/group is not a regular file (" + tc.kind + ")"
			gosuWith(t, tc.path, group, "app", bin+"/probe").
				expectFailure(t, "passwd by name", "error: failed switching to 'app': unable to find user app: "+pw)
			gosuWith(t, tc.path, group, "1000", bin+"/probe").
				expectFailure(t, "passwd by uid", "error: failed switching to '1000': "+pw)
			gosuWith(t, passwd, tc.path, "app", bin+"/probe").
				expectFailure(t, "group of a user", "error: failed switching to 'app': "+gr)
			gosuWith(t, passwd, tc.path, "0:staff", bin+"/probe").
				expectFailure(t, "group by name", "error: failed switching to '0:staff': unable to find group staff: "+gr)
		})
	}
}

// longLine is a well-formed passwd line of 2 MiB.
var longLine = "long:x:1:1:" + strings.Repeat("g", 2<<20) + ":/:/bin/sh"

// TestAccountFilesLongLines: a line over 1 MiB stops the lookup that
// reaches it with an error naming file and line; one before it is found.
// Memory stays bounded whatever the file holds.
func TestAccountFilesLongLines(t *testing.T) {
	needRoot(t)
	fixture := func(name string) string {
		b, err := os.ReadFile(fixtureFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first, rest, _ := strings.Cut(fixture("passwd"), "\n")
	passwd := writePublic(t, "passwd", first+"\n"+longLine+"\n"+rest, 0o644)
	first, rest, _ = strings.Cut(fixture("group"), "\n")
	group := writePublic(t, "group", first+"\nlong:x:7:"+strings.Repeat("m,", 1<<20)+"app\n"+rest, 0o644)
	okGroup := fixtureFile(t, "group")

	const tooLong = ":2: line longer than 1048576 bytes"
	r := gosuWith(t, passwd, okGroup, "root", bin+"/probe")
	r.expect(t, "root, before the long line", map[string]string{"Uid": "0 0 0 0", "env.HOME": "/root"})
	gosuWith(t, passwd, okGroup, "app", bin+"/probe").
		expectFailure(t, "app, after the long line", "error: failed switching to 'app': unable to find user app: /etc/passwd"+tooLong)
	gosuWith(t, passwd, okGroup, "1000", bin+"/probe").
		expectFailure(t, "uid 1000, after the long line", "error: failed switching to '1000': /etc/passwd"+tooLong)
	gosuWith(t, fixtureFile(t, "passwd"), group, "app", bin+"/probe").
		expectFailure(t, "groups of app", "error: failed switching to 'app': /etc/group"+tooLong)
	gosuWith(t, fixtureFile(t, "passwd"), group, "app:staff", bin+"/probe").
		expectFailure(t, "group after the long line", "error: failed switching to 'app:staff': unable to find group staff: /etc/group"+tooLong)

	// 8 GiB of holes: one line that a reader without a limit would gather
	// whole.
	sparse := filepath.Join(publicDir(t), "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(8 << 30)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	gosuWith(t, sparse, okGroup, "app", bin+"/probe").
		expectFailure(t, "8 GiB sparse passwd", "error: failed switching to 'app': unable to find user app: /etc/passwd:1: line longer than 1048576 bytes")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("8 GiB sparse passwd: %v to fail", d)
	}
}

// TestAccountFilesCRLF: files saved with DOS line endings mean what they
// mean with Unix ones: no member at the end of a group line is lost and no
// "\r" reaches the environment.
func TestAccountFilesCRLF(t *testing.T) {
	needRoot(t)
	crlf := func(name string) string {
		b, err := os.ReadFile(fixtureFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return writePublic(t, name, strings.ReplaceAll(string(b), "\n", "\r\n"), 0o644)
	}
	passwd, group := crlf("passwd"), crlf("group")
	for _, tc := range []struct{ spec, uid, gid, groups, home, shell string }{
		{"app", "1000", "1000", "50 100", "/home/app", "/bin/sh"},
		{"nobody", "65534", "65534", "0 1 60 100 65534", "/nonexistent", "/usr/sbin/nologin"},
		{"games", "5", "60", "100", "/usr/games", "/usr/sbin/nologin"},
		{"high", "3000000000", "3000000001", "50 3000000002", "/home/high", "/bin/sh"},
		{"root", "0", "0", "", "/root", "/bin/sh"},
		{"twin", "1000", "1000", "", "/home/twin", "/bin/bash"},
		{"noshell", "1003", "1003", "", "/", "/bin/sh"}, // empty field, not "\r"
		{"app:nogroup", "1000", "65534", "", "/home/app", "/bin/sh"},
	} {
		want := map[string]string{
			"Uid":       strings.Repeat(tc.uid+" ", 3) + tc.uid,
			"Gid":       strings.Repeat(tc.gid+" ", 3) + tc.gid,
			"Groups":    tc.groups,
			"env.HOME":  tc.home,
			"env.SHELL": tc.shell,
		}
		gosuWith(t, passwd, group, "--login-env", tc.spec, bin+"/probe").expect(t, "CRLF "+tc.spec, want)
		// The same files with Unix line endings agree.
		gosuWith(t, fixtureFile(t, "passwd"), fixtureFile(t, "group"), "--login-env", tc.spec, bin+"/probe").expect(t, "LF "+tc.spec, want)
	}
	gosuWith(t, passwd, group, "evil1", bin+"/probe").expectFailure(t, "CRLF malformed line",
		`error: failed switching to 'evil1': unable to find user evil1: no matching entries in passwd file (/etc/passwd:11 has that name but is malformed and ignored: uid "notanumber" is not a decimal number in 0-4294967294)`)
}

// TestAccountFilesUnreadable: a file that exists but may not be read counts
// as empty, as upstream, but a failed lookup by name says why. As a
// non-root user, as in a user namespace where the file's owner is unmapped.
func TestAccountFilesUnreadable(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	content := func(name string) string {
		b, err := os.ReadFile(fixtureFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lockedPasswd := writePublic(t, "passwd", content("passwd"), 0)
	lockedGroup := writePublic(t, "group", content("group"), 0)
	asNobody := func(passwd, group string, args ...string) boundedResult {
		argv := []string{bin + "/withaccounts", passwd, group,
			setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", bin + "/gosu"}
		return runBounded(t, append(argv, args...)...)
	}
	asNobody(lockedPasswd, fixtureFile(t, "group"), "app", bin+"/probe").expectFailure(t, "user by name",
		"error: failed switching to 'app': unable to find user app: no matching entries in passwd file (/etc/passwd could not be read: permission denied)")
	asNobody(fixtureFile(t, "passwd"), lockedGroup, "65534:staff", bin+"/probe").expectFailure(t, "group by name",
		"error: failed switching to '65534:staff': unable to find group staff: no matching entries in group file (/etc/group could not be read: permission denied)")
	// Still empty for what needs no entry: nobody by its ids runs, with
	// HOME "/" since its entry cannot be seen.
	asNobody(lockedPasswd, lockedGroup, "65534:65534", bin+"/probe").expect(t, "ids", map[string]string{
		"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "", "env.HOME": "/",
	})
	// Readable files: no hint.
	asNobody(fixtureFile(t, "passwd"), fixtureFile(t, "group"), "bogus", bin+"/probe").expectFailure(t, "readable",
		"error: failed switching to 'bogus': unable to find user bogus: no matching entries in passwd file")
}
