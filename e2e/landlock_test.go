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

	"golang.org/x/sys/unix"
)

// Landlock leaves no trace in /proc/PID/status, so these tests assert what
// the kernel lets the command do: e2e/fsops tries an operation and prints
// the errno, and the test then looks at the file system as root.

func needLandlock(t *testing.T) {
	t.Helper()
	needRoot(t)
	_, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	need(t, errno == 0, "needs Landlock in the kernel: "+errno.Error())
}

// volume makes, in a directory every user can reach:
//
//	data/           the listed path, app's (1000:1000), holding "existing"
//	other/          world-writable (1777), like /tmp or a shared volume
//	other/victim    app's: a file app may write by its permissions
//
// and returns the directory.
func volume(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"data", 0o755}, {"other", 0o1777}} {
		if err := os.Mkdir(dir+"/"+d.name, d.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir+"/"+d.name, d.mode) // past the umask
	}
	for _, f := range []string{"data/existing", "other/victim"} {
		if err := os.WriteFile(dir+"/"+f, []byte("before"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"data", "data/existing", "other/victim"} {
		if err := os.Lchown(dir+"/"+f, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ops runs fsops through gosu and returns its results by operation.
func ops(t *testing.T, gosuArgs []string, fsops ...string) (map[string]string, result) {
	t.Helper()
	r := gosu(t, append(append(gosuArgs, bin+"/fsops"), fsops...)...)
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(r.stdout), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			got[k] = v
		}
	}
	return got, r
}

func expectOps(t *testing.T, what string, got map[string]string, r result, want map[string]string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s: exit %d, stderr %q", what, r.code, r.stderr)
	}
	for op, w := range want {
		if got[op] != w {
			t.Errorf("%s: %s: %q, want %s", what, op, got[op], w)
		}
	}
}

// inherited is what the probe sees open when gosu runs it without Landlock:
// what the test itself passes on.
func inherited(t *testing.T) string {
	t.Helper()
	return gosu(t, "app", bin+"/probe").probe["fds"]
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestLandlockWrite: with --landlock-write the command writes beneath the
// listed paths and nowhere else, whatever the permissions say: not in a
// world-writable directory, not in /tmp, not through a link it planted in
// the tree, not by renaming a file out of the tree or hard-linking one in,
// not from another thread, not through a child shell. Reading elsewhere
// works, and no descriptor of gosu's reaches the command.
func TestLandlockWrite(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	tmp := "/tmp/gosu-landlock-" + filepath.Base(dir)
	t.Cleanup(func() { os.Remove(tmp) })
	// The user planted a link in its own tree that leads out of it.
	if err := os.Symlink(o, d+"/out"); err != nil {
		t.Fatal(err)
	}
	opts := []string{"--landlock-write=" + d + ",/dev/null", "app"}
	got, r := ops(t, opts,
		"write", d+"/new", "thread-write", d+"/thread", "mkdir", d+"/sub", "rename", d+"/new", d+"/sub/moved",
		"write", "/dev/null", "read", "/etc/passwd", "list", "/",
		"write", o+"/x", "thread-write", o+"/y", "write", tmp, "write", d+"/out/z", "mkdir", o+"/sub", "mkfifo", o+"/fifo",
		"rename", d+"/existing", o+"/existing", "link", o+"/victim", d+"/victim", "truncate", o+"/victim", "write", o+"/victim",
		"remove", o+"/victim")
	expectOps(t, "--landlock-write", got, r, map[string]string{
		"write " + d + "/new": "ok", "thread-write " + d + "/thread": "ok", "mkdir " + d + "/sub": "ok",
		"rename " + d + "/new " + d + "/sub/moved": "ok", "write /dev/null": "ok", "read /etc/passwd": "ok", "list /": "ok",
		"write " + o + "/x": "EACCES", "thread-write " + o + "/y": "EACCES", "write " + tmp: "EACCES", "write " + d + "/out/z": "EACCES",
		"mkdir " + o + "/sub": "EACCES", "mkfifo " + o + "/fifo": "EACCES",
		"rename " + d + "/existing " + o + "/existing": "EACCES", // out of the tree
		"link " + o + "/victim " + d + "/victim":       "EXDEV",  // into it: the file would gain write access there
		"truncate " + o + "/victim":                    "EACCES", "write " + o + "/victim": "EACCES", "remove " + o + "/victim": "EACCES",
	})
	for _, f := range []string{o + "/x", o + "/y", tmp, o + "/z", o + "/sub", o + "/fifo", o + "/existing", d + "/victim"} {
		if exists(f) {
			t.Errorf("%s exists", f)
		}
	}
	if b, _ := os.ReadFile(o + "/victim"); string(b) != "before" {
		t.Errorf("other/victim holds %q", b)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(d+"/sub/moved", &st); err != nil || st.Uid != 1000 {
		t.Errorf("data/sub/moved: %v, uid %d", err, st.Uid)
	}

	// A shell and what it starts are confined alike.
	r = gosu(t, append(opts, "sh", "-c", "echo a > "+o+"/sh; sh -c 'echo b > "+o+"/sh2'; echo c > "+d+"/sh3 && echo done")...)
	if r.code != 0 || r.stdout != "done\n" || strings.Count(r.stderr, "Permission denied") != 2 || exists(o+"/sh") || exists(o+"/sh2") || !exists(d+"/sh3") {
		t.Errorf("child shells: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// The kernel's view of the command: no_new_privs, and no descriptor
	// but those gosu inherited.
	r = gosu(t, append(opts, bin+"/probe")...)
	r.expect(t, "probe", map[string]string{"Uid": "1000 1000 1000 1000", "NoNewPrivs": "1", "fds": inherited(t)})

	// A caller cannot know the numbers of gosu's rule descriptors, but may
	// guess them for --keep-fds: only inherited descriptors can be kept, so
	// a number open only with Landlock (one of the rules') is refused, as
	// gosu's own, before anything runs, with --init too.
	for _, parent := range [][]string{nil, {"--init"}} {
		rules := 0
		for fd := 3; fd < 16; fd++ {
			keep := append(parent, "--close-fds", "--keep-fds="+strconv.Itoa(fd))
			base := gosu(t, append(keep, "app", bin+"/probe")...)
			r := gosu(t, append(keep, "--landlock-write="+d+",/dev/null", "app", bin+"/probe")...)
			own := "--keep-fds: fd " + strconv.Itoa(fd) + " to keep was not inherited: it is one gosu opened itself"
			switch {
			case base.code == 0:
				r.expect(t, strings.Join(keep, " "), map[string]string{"fds": base.probe["fds"]})
			case strings.Contains(base.stderr, "to keep is not open") && r.code == 1 && strings.Contains(r.stderr, own):
				rules++
			case r.code != 1 || !strings.Contains(r.stderr, "--keep-fds: fd "+strconv.Itoa(fd)+" to keep"):
				t.Errorf("%q with Landlock: exit %d, stderr %q", keep, r.code, r.stderr)
			}
		}
		if rules != 3 {
			t.Errorf("%q: %d numbers open only with Landlock refused as gosu's own, want the 3 rules'", parent, rules)
		}
	}
}

// TestLandlockRead: with --landlock-read the command reads and executes
// only beneath the listed paths and the write paths; it still runs (a
// dynamically linked program with /usr and the loader's cache), and a
// command outside them is refused by the kernel at execve (status 126).
func TestLandlockRead(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d := dir + "/data"
	got, r := ops(t, []string{"--landlock-write=" + d, "--landlock-read=" + bin, "app"},
		"read", d+"/existing", "list", d, "list", bin, "read", "/etc/passwd", "list", "/", "list", dir, "write", d+"/w")
	expectOps(t, "--landlock-read", got, r, map[string]string{
		"read " + d + "/existing": "ok", "list " + d: "ok", "list " + bin: "ok", "write " + d + "/w": "ok",
		"read /etc/passwd": "EACCES", "list /": "EACCES", "list " + dir: "EACCES",
	})

	// /proc/self/root leads to the same files, which the rules see. A
	// program with no path, copied into a memfd, runs (the execute right
	// governs files beneath paths; the command can run any code from its
	// memory anyway), and is confined as its parent is.
	got, r = ops(t, []string{"--landlock-read=" + bin, "app"},
		"read", "/proc/self/root/etc/passwd", "list", "/proc/self/root/", "memfd-exec", "/etc/passwd", "memfd-exec", bin+"/fsops")
	expectOps(t, "--landlock-read, /proc and memfd", got, r, map[string]string{
		"read /proc/self/root/etc/passwd": "EACCES", "list /proc/self/root/": "EACCES",
		"memfd-exec /etc/passwd": "ok", "read /etc/passwd": "EACCES", "memfd-exec " + bin + "/fsops": "ok", "read " + bin + "/fsops": "ok",
	})

	sh, err := exec.LookPath("sh")
	if err == nil {
		sh, err = filepath.EvalSymlinks(sh)
	}
	need(t, err == nil && strings.HasPrefix(sh, "/usr/"), "needs sh under /usr (merged /usr)")
	// Alone, --landlock-read lets nothing be written, not even /dev/null.
	r = gosu(t, "--landlock-read=/usr,/etc/ld.so.cache", "app", "sh", "-c", "cat /etc/hostname; echo x >/dev/null; echo ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.Contains(r.stderr, "/etc/hostname: Permission denied") ||
		!strings.Contains(r.stderr, "cannot create /dev/null: Permission denied") {
		t.Errorf("dynamic sh: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = gosu(t, "--landlock-read="+d, "app", bin+"/probe")
	if r.code != 126 || r.stderr != "error: exec: "+strconv.Quote(bin+"/probe")+": permission denied\n" {
		t.Errorf("command outside --landlock-read: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestLandlockRoot: a root command is confined too, capabilities and all
// (Landlock ignores CAP_DAC_OVERRIDE and CAP_MKNOD), and keeps them. It
// cannot make a device node even beneath a write path: with CAP_MKNOD, a
// node for the disk (or a loop device over a file elsewhere) made in
// --landlock-write's tree would read and write what is outside both trees,
// as Landlock checks the node's path, not the device.
func TestLandlockRoot(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	got, r := ops(t, []string{"--landlock-write=" + d, "root"},
		"write", d+"/r", "write", o+"/r", "write", o+"/victim", "mkfifo", o+"/f", "rename", o+"/victim", d+"/v", "mkdir", dir+"/new",
		"mkfifo", d+"/f", "mkchar", d+"/c", "mkblock", d+"/b", "mkchar", o+"/c")
	expectOps(t, "root", got, r, map[string]string{
		"write " + d + "/r": "ok", "write " + o + "/r": "EACCES", "write " + o + "/victim": "EACCES", "mkfifo " + o + "/f": "EACCES",
		"rename " + o + "/victim " + d + "/v": "EACCES", "mkdir " + dir + "/new": "EACCES",
		"mkfifo " + d + "/f": "ok", "mkchar " + d + "/c": "EACCES", "mkblock " + d + "/b": "EACCES", "mkchar " + o + "/c": "EACCES",
	})
	for _, f := range []string{d + "/c", d + "/b", o + "/c"} {
		if exists(f) {
			t.Errorf("%s exists", f)
		}
	}
	// Without Landlock, the same command makes both.
	got, r = ops(t, []string{"root"}, "mkchar", d+"/c", "mkblock", d+"/b")
	expectOps(t, "root, unconfined", got, r, map[string]string{"mkchar " + d + "/c": "ok", "mkblock " + d + "/b": "ok"})

	// CAP_SYS_ADMIN mounts nothing, not even over its own tree (in a mount
	// namespace of the test's, so that nothing else could see it).
	unshare := needTool(t, "unshare", "util-linux")
	if err := os.Mkdir(d+"/mnt", 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func(args ...string) result {
		return run(t, nil, append([]string{unshare, "-m", "--propagation", "private"},
			withAccounts(append(append([]string{bin + "/gosu"}, args...), "root", bin+"/fsops", "mount", d+"/mnt")...)...)...)
	}
	if r := mount(); r.stdout != "mount "+d+"/mnt: ok\n" {
		t.Errorf("mount, unconfined: %q, %q", r.stdout, r.stderr)
	}
	if r := mount("--landlock-write=" + d); r.stdout != "mount "+d+"/mnt: EPERM\n" {
		t.Errorf("mount: %q, %q", r.stdout, r.stderr)
	}

	// CAP_DAC_READ_SEARCH opens a file by its handle, with no path walk:
	// Landlock still checks where the file is.
	try := []string{"handle", o + "/victim", "handle", d + "/r"}
	got, r = ops(t, []string{"root"}, try...)
	expectOps(t, "open_by_handle_at, unconfined", got, r, map[string]string{"handle " + o + "/victim": "ok", "handle " + d + "/r": "ok"})
	got, r = ops(t, []string{"--landlock-write=" + d, "root"}, try...)
	expectOps(t, "open_by_handle_at", got, r, map[string]string{"handle " + o + "/victim": "EACCES", "handle " + d + "/r": "ok"})
	plain := gosu(t, "root", bin+"/probe")
	r = gosu(t, "--landlock-write="+d, "root", bin+"/probe")
	r.expect(t, "root probe", map[string]string{"Uid": "0 0 0 0", "CapEff": plain.probe["CapEff"], "NoNewPrivs": "1", "fds": plain.probe["fds"]})
}

// TestLandlockSupervised: under --init and --pty the rules apply to the
// command, which a fresh gosu confines with the descriptors the parent
// opened (and none of them reaches the command); the parent, which is not
// in the command's Landlock domain, is out of its reach (signal scoping:
// even a root command cannot signal it).
func TestLandlockSupervised(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	got, r := ops(t, []string{"--init", "--landlock-write=" + d, "app"}, "write", d+"/i", "write", o+"/i")
	expectOps(t, "--init", got, r, map[string]string{"write " + d + "/i": "ok", "write " + o + "/i": "EACCES"})
	// SIGIO, here asked to be SIGKILL, goes through the same scope as kill:
	// had it reached the parent, the run would end in 137 with no output.
	got, r = ops(t, []string{"--init", "--landlock-write=" + d, "root"}, "kill", "ppid", "mem", "ppid", "sigio", "ppid", "write", o+"/j")
	expectOps(t, "--init, root", got, r, map[string]string{"kill ppid": "EPERM", "mem ppid": "EACCES", "sigio ppid": "ok", "write " + o + "/j": "EACCES"})
	got, r = ops(t, []string{"--init", "root"}, "kill", "ppid")
	expectOps(t, "--init, root, unconfined", got, r, map[string]string{"kill ppid": "ok"})
	// --detach-tty with --init: a new session under the parent, which
	// keeps the terminal.
	got, r = ops(t, []string{"--init", "--detach-tty", "--landlock-write=" + d, "app"}, "write", d+"/s", "write", o+"/s", "kill", "ppid")
	expectOps(t, "--init --detach-tty", got, r, map[string]string{"write " + d + "/s": "ok", "write " + o + "/s": "EACCES", "kill ppid": "EPERM"})
	r = gosu(t, "--init", "--landlock-write="+d, "app", bin+"/probe")
	r.expect(t, "--init probe", map[string]string{"Uid": "1000 1000 1000 1000", "NoNewPrivs": "1", "fds": inherited(t)})

	g := strings.Join(withAccounts(bin+"/gosu"), " ")
	// The terminal reopened as /dev/tty takes no ioctl (TIOCSTI included:
	// ioctl_dev), while stdin, opened before, still does.
	r = scriptRun(t, g+" --pty --landlock-write="+d+" app "+bin+"/fsops write "+d+"/p write "+o+"/p ioctl /dev/tty ioctl /proc/self/fd/0")
	if r.code != 0 || !strings.Contains(r.stdout, "write "+d+"/p: ok\n") || !strings.Contains(r.stdout, "write "+o+"/p: EACCES\n") ||
		!strings.Contains(r.stdout, "ioctl /dev/tty: EACCES\n") || !strings.Contains(r.stdout, "ioctl /proc/self/fd/0: EACCES\n") {
		t.Errorf("--pty: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	plain := scriptRun(t, g+" --pty app "+bin+"/probe")
	r = scriptRun(t, g+" --pty --landlock-write="+d+" app "+bin+"/probe")
	if r.code != 0 || r.probe["fds"] != plain.probe["fds"] || r.probe["NoNewPrivs"] != "1" || r.probe["tty_nr"] == "0" {
		t.Errorf("--pty probe: exit %d, %v; without Landlock: fds %s", r.code, r.probe, plain.probe["fds"])
	}
}

// TestLandlockNonRoot: a caller that is already the user (Kubernetes
// runAsUser) confines itself too: no_new_privs needs no privilege.
func TestLandlockNonRoot(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	r := run(t, nil, withAccounts(setpriv(t, []string{"--reuid=1000", "--regid=1000", "--clear-groups"},
		bin+"/gosu", "--landlock-write="+d, "1000:1000", bin+"/fsops", "write", d+"/n", "write", o+"/n")...)...)
	if r.code != 0 || r.stdout != "write "+d+"/n: ok\nwrite "+o+"/n: EACCES\n" {
		t.Errorf("non-root caller: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestLandlockEscapes: what a confined command could try against processes
// of its own uid that are not confined: signal them, read their memory
// (ptrace access), connect to their abstract unix sockets. Unconfined, each
// works; confined, each is denied.
func TestLandlockEscapes(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	name := "gosu-landlock-test-" + filepath.Base(dir)
	// An unconfined process of app's, listening on an abstract socket.
	argv := withAccounts(bin+"/gosu", "app", bin+"/fsops", "listen", name)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 32)
	if n, _ := out.Read(buf); string(buf[:n]) != "listening\n" {
		t.Fatalf("listener: %q", buf[:n])
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	root := "/proc/" + pid + "/root/etc/passwd" // the listener's view of /
	try := []string{"kill", pid, "mem", pid, "connect", name, "read", root}
	got, r := ops(t, []string{"app"}, try...)
	expectOps(t, "unconfined", got, r, map[string]string{"kill " + pid: "ok", "mem " + pid: "ok", "connect " + name: "ok", "read " + root: "ok"})
	got, r = ops(t, []string{"--landlock-write=" + dir + "/data", "app"}, try...)
	expectOps(t, "confined", got, r, map[string]string{"kill " + pid: "EPERM", "mem " + pid: "EACCES", "connect " + name: "EPERM", "read " + root: "EACCES"})

	// SIGIO, asked to be SIGKILL (F_SETSIG), when a pipe becomes readable:
	// dropped for a confined owner, delivered for an unconfined one.
	got, r = ops(t, []string{"--landlock-write=" + dir + "/data", "app"}, "sigio", pid)
	expectOps(t, "confined", got, r, map[string]string{"sigio " + pid: "ok"})
	if processGone(cmd.Process.Pid, 200*time.Millisecond) {
		t.Fatal("a confined command killed an unconfined process with SIGIO")
	}
	got, r = ops(t, []string{"app"}, "sigio", pid)
	expectOps(t, "unconfined", got, r, map[string]string{"sigio " + pid: "ok"})
	if !processGone(cmd.Process.Pid, 2*time.Second) {
		t.Error("SIGIO did not kill the listener unconfined either: the attack above proves nothing")
	}
}

// TestLandlockKernelPaths: ways to a file that are not open(2) by the
// command itself (io_uring's IORING_OP_OPENAT, a descriptor opened before
// gosu reopened through /proc/self/fd, O_TRUNC on a readable file, a unix
// socket bound to a path) and a mount from a user namespace the command
// makes: each is checked, or denied.
func TestLandlockKernelPaths(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	if err := os.Mkdir(d+"/mnt", 0o755); err != nil {
		t.Fatal(err)
	}
	try := []string{"otrunc", o + "/victim", "bind", o + "/sock", "bind", d + "/sock", "userns-mount", d + "/mnt", "write", "/proc/self/fd/3", "read", "/proc/self/fd/3"}
	// fd 3 is other/victim, opened read-only by the shell before gosu.
	sh := func(args ...string) result {
		return run(t, nil, append([]string{"sh", "-c", `exec "$@" 3<"$0"`, o + "/victim"}, withAccounts(append([]string{bin + "/gosu"}, args...)...)...)...)
	}
	r := sh(append([]string{"app", bin + "/fsops"}, try...)...)
	need(t, strings.Contains(r.stdout, "mount "+d+"/mnt: ok\n"), "needs user namespaces: "+r.stdout)
	want := "otrunc " + o + "/victim: ok\nbind " + o + "/sock: ok\nbind " + d + "/sock: ok\n" +
		"mount " + d + "/mnt: ok\nuserns-mount " + d + "/mnt: ok\nwrite /proc/self/fd/3: ok\nread /proc/self/fd/3: ok\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("unconfined: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	for _, f := range []string{o + "/sock", d + "/sock"} {
		os.Remove(f)
	}
	os.WriteFile(o+"/victim", []byte("before"), 0o644)
	r = sh(append([]string{"--landlock-write=" + d, "app", bin + "/fsops"}, try...)...)
	want = "otrunc " + o + "/victim: EACCES\nbind " + o + "/sock: EACCES\nbind " + d + "/sock: ok\n" +
		"mount " + d + "/mnt: EPERM\nuserns-mount " + d + "/mnt: ok\nwrite /proc/self/fd/3: EACCES\nread /proc/self/fd/3: ok\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("confined: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	if b, _ := os.ReadFile(o + "/victim"); string(b) != "before" || exists(o+"/sock") {
		t.Errorf("other/victim holds %q; other/sock exists: %v", b, exists(o+"/sock"))
	}

	// io_uring, where the kernel allows it (a container's seccomp profile
	// may not).
	try = []string{"uring-write", d + "/u", "uring-write", o + "/u"}
	got, r := ops(t, []string{"app"}, try...)
	need(t, got["uring-write "+d+"/u"] == "ok", "needs io_uring: "+got["uring-write "+d+"/u"])
	expectOps(t, "io_uring, unconfined", got, r, map[string]string{"uring-write " + o + "/u": "ok"})
	os.Remove(o + "/u")
	got, r = ops(t, []string{"--landlock-write=" + d, "app"}, try...)
	expectOps(t, "io_uring", got, r, map[string]string{"uring-write " + d + "/u": "ok", "uring-write " + o + "/u": "EACCES"})
	if exists(o + "/u") {
		t.Errorf("%s exists", o+"/u")
	}
}

// TestLandlockLimits pins what Landlock, which grants by path, does not
// stop, as docs/landlock.md says: a hard link made into the tree before gosu
// started writes the file it names elsewhere too, a mount below a listed
// path is part of it (while the same directory by its own path stays shut),
// and metadata (a file's mode) outside can still change.
func TestLandlockLimits(t *testing.T) {
	needLandlock(t)
	unshare := needTool(t, "unshare", "util-linux")
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	if err := os.Link(o+"/victim", d+"/hardlink"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d+"/mnt", 0o755); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{unshare, "-m", "--propagation", "private", "sh", "-c", `mount --bind "$1" "$2" && shift 2 && exec "$@"`, "sh", o, d + "/mnt"},
		withAccounts(bin+"/gosu", "--landlock-write="+d, "app", bin+"/fsops", "write", d+"/hardlink", "write", d+"/mnt/m", "write", o+"/m", "chmod", o+"/victim")...)
	r := run(t, nil, argv...)
	want := "write " + d + "/hardlink: ok\nwrite " + d + "/mnt/m: ok\nwrite " + o + "/m: EACCES\nchmod " + o + "/victim: ok\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	if b, _ := os.ReadFile(o + "/victim"); string(b) != "x" {
		t.Errorf("other/victim, written through the hard link, holds %q", b)
	}
	if st, err := os.Stat(o + "/victim"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("other/victim after chmod: %v, %v", st, err)
	}
}

// TestLandlockParentDeathSignal: confining the thread after the switch
// does not clear the parent-death signal (the kernel clears it only when
// ids or capabilities change).
func TestLandlockParentDeathSignal(t *testing.T) {
	needLandlock(t)
	dir := volume(t)
	argv := strings.Join(withAccounts(bin+"/gosu", "--pdeathsig=TERM", "--landlock-write="+dir+"/data", "app", "sleep", "60"), " ")
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
	if !processGone(pid, 2*time.Second) {
		t.Error("the confined command outlived its parent")
	}
}

// TestLandlockQuoting: a path gosu prints, in an error or in --explain, is
// quoted: a newline or an escape sequence in it cannot forge a line or
// reach the terminal.
func TestLandlockQuoting(t *testing.T) {
	needLandlock(t)
	dir := publicDir(t)
	evil := dir + "/a\nerror: forged\x1b[2J"
	if err := os.Mkdir(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	r := gosu(t, "--explain", "--landlock-write="+evil, "app", "id")
	if r.code != 0 || !strings.Contains(r.stdout, strconv.Quote(evil)+": execute write_file") || strings.Contains(r.stdout, "\x1b") || strings.Contains(r.stdout, "\nerror: forged") {
		t.Errorf("--explain: exit %d, stdout %q", r.code, r.stdout)
	}
	r = gosu(t, "--landlock-write="+evil+"/missing", "app", "id")
	if r.code != 1 || r.stderr != "error: failed switching to 'app': --landlock-write: "+strconv.Quote(evil+"/missing")+": no such file or directory\n" {
		t.Errorf("missing: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestContainerLandlock: gosu --init as PID 1 of a runc container, with
// Docker's capabilities: the command is confined, PID 1 is out of its
// reach (signals, SIGIO, its memory), and no rule descriptor reaches it.
func TestContainerLandlock(t *testing.T) {
	needLandlock(t)
	c := newContainer(t)
	root := filepath.Join(c.dir, "rootfs")
	copyFile(t, bin+"/fsops", filepath.Join(root, "usr/local/bin/fsops"))
	if err := os.Mkdir(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "data"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	c.edit(t, func(cfg map[string]any) { cfg["root"].(map[string]any)["readonly"] = false })
	ll := []string{"gosu", "--init", "--landlock-write=/data,/dev/null", "app"}
	cmd, out, _ := c.start(t, append(ll, "fsops", "write", "/data/x", "write", "/tmp/x", "kill", "1", "mem", "1", "sigio", "1")...)
	var got strings.Builder
	for {
		line, err := out.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			break
		}
	}
	want := "write /data/x: ok\nwrite /tmp/x: EACCES\nkill 1: EPERM\nmem 1: EACCES\nsigio 1: ok\n"
	if err := cmd.Wait(); err != nil || got.String() != want {
		t.Errorf("fsops as PID 1's child: %v, stdout %q, want %q", err, got.String(), want)
	}
	if !exists(filepath.Join(root, "data/x")) || exists(filepath.Join(root, "tmp/x")) {
		t.Error("the files say otherwise")
	}
	plain := c.probe(t, "gosu", "--init", "app", "probe")
	c.probe(t, append(ll, "probe")...).expect(t, "probe", map[string]string{
		"ppid": "1", "Uid": "1000 1000 1000 1000", "NoNewPrivs": "1", "fds": plain.probe["fds"],
	})
}

// TestLandlockCoreDump: the kernel writes a crashing command's core file in
// its working directory, on its behalf: not outside the write paths
// either. (Where core_pattern is a plain file name; a pipe or a directory
// of the machine's is not the command's to write.)
func TestLandlockCoreDump(t *testing.T) {
	needLandlock(t)
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	need(t, err == nil && !strings.ContainsAny(string(pattern), "/|%"), "needs a plain kernel.core_pattern, not "+strconv.Quote(string(pattern)))
	dir := volume(t)
	d, o := dir+"/data", dir+"/other"
	cores := func(in string) int {
		entries, _ := os.ReadDir(in)
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), strings.TrimSpace(string(pattern))) {
				n++
				os.Remove(in + "/" + e.Name())
			}
		}
		return n
	}
	crash := func(opts ...string) {
		t.Helper()
		argv := append([]string{"sh", "-c", `ulimit -c unlimited && exec "$@"`, "sh"},
			withAccounts(append(append([]string{bin + "/gosu"}, opts...), "app", "sh", "-c", `for d; do cd "$d" || exit; sleep 1 & kill -SEGV $!; wait $!; done`, "sh", o, d)...)...)
		run(t, nil, argv...)
	}
	crash()
	need(t, cores(o) == 1 && cores(d) == 1, "needs the kernel to dump cores here (RLIMIT_CORE, suid_dumpable)")
	crash("--landlock-write=" + d)
	if n, m := cores(o), cores(d); n != 0 || m != 1 {
		t.Errorf("confined: %d core files outside the write path, %d beneath it; want 0 and 1", n, m)
	}
}
