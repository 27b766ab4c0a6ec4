package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestChownVanishing: directories that the program creates and removes
// while gosu walks the volume (churn, and an rmdir timed by inotify right
// after the walk opens each directory) never stop the start: 60 starts,
// no failure. They stopped about 1 start in 10 (churn) and 1 in 3
// (inotify) before.
func TestChownVanishing(t *testing.T) {
	needRoot(t)
	setup(t)
	vol := publicDir(t)
	var areas []string
	for i := range 4 {
		a := vol + "/d" + strconv.Itoa(i)
		for j := range 20 {
			mkdirAll(t, a+"/keep"+strconv.Itoa(j))
		}
		mkdirAll(t, a+"/churn")
		if err := os.Chmod(a+"/churn", 0o777); err != nil {
			t.Fatal(err)
		}
		areas = append(areas, a+"/churn")
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	fill := func(d string) {
		if os.Mkdir(d, 0o777) == nil {
			os.Mkdir(d+"/sub", 0o777)
			os.WriteFile(d+"/sub/f", nil, 0o644)
			os.WriteFile(d+"/f", nil, 0o644)
		}
	}
	empty := func(d string) {
		os.Remove(d + "/sub/f")
		os.Remove(d + "/sub")
		os.Remove(d + "/f")
		os.Remove(d)
	}
	for _, a := range areas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				fill(a + "/c" + strconv.Itoa(n%6))
				empty(a + "/c" + strconv.Itoa((n+3)%6))
			}
		}()
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	watches := map[int32]string{}
	for _, a := range areas {
		wd, err := unix.InotifyAddWatch(in, a, unix.IN_OPEN|unix.IN_ONLYDIR)
		if err != nil {
			t.Fatal(err)
		}
		watches[int32(wd)] = a
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(in, buf)
			if err != nil || n <= 0 || stop.Load() {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if end := slices.Index(name, 0); ev.Mask&unix.IN_ISDIR != 0 && end > 0 {
					empty(watches[ev.Wd] + "/" + string(name[:end]))
				}
			}
		}
	}()
	defer func() {
		stop.Store(true)
		if fd, err := unix.Open(areas[0], unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			unix.Close(fd) // wakes the inotify reader
		}
		wg.Wait()
		unix.Close(in)
	}()
	failures := 0
	for i := range 60 {
		ids := "4242:4343"
		if i%2 == 1 {
			ids = "0:0" // back, so that the next start has work
		}
		r := run(t, nil, bin+"/gosu", "--chown="+vol, ids, "true")
		if r.code != 0 || r.stderr != "" {
			failures++
			t.Errorf("start %d: exit %d, stderr %q", i, r.code, r.stderr)
		}
	}
	t.Logf("60 starts, %d failed", failures)
}

// TestChownLeavesRefusedEntries: what the kernel will not let gosu open or
// change is left, the start goes on, and stderr says which entry and why,
// quoted: a chmod 000 directory whose name forges a log line and retitles
// the terminal, in a container without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH; and a volume on a read-only mount.
func TestChownLeavesRefusedEntries(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	unshare := needTool(t, "unshare", "util-linux")
	vol := publicDir(t)
	odd := vol + "/x\nerror: fake line\x1b]0;TITLE\a"
	mkdirAll(t, vol+"/ok")
	mkdirAll(t, odd)
	if err := os.WriteFile(odd+"/f", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(odd, 5, 5); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(odd, 0); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", bin+"/gosu", "--chown="+vol, "4242:4343", bin+"/probe")
	q := strconv.Quote
	want := "gosu: chown " + q(vol) + ": 2 of 2 changed, 1 skipped (cannot be changed)\n" +
		"gosu: skipped " + q(odd) + ": cannot open directory: permission denied\n"
	if r.code != 0 || r.stderr != want || r.probe["Uid"] != "4242 4242 4242 4242" {
		t.Errorf("unreadable directory: exit %d, stderr %q, want %q; Uid %q", r.code, r.stderr, want, r.probe["Uid"])
	}
	if strings.ContainsAny(r.stderr, "\x1b\a") || strings.Contains(r.stderr, "\nerror:") {
		t.Errorf("a raw name reached stderr: %q", r.stderr)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(vol+"/ok", &st); err != nil || st.Uid != 4242 {
		t.Errorf("ok: owner %d, %v; want 4242", st.Uid, err)
	}

	ro := publicDir(t)
	mkdirAll(t, ro+"/a")
	r = run(t, nil, unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" --chown="$1" 4242:4343 "$3"`, "sh", ro, bin+"/gosu", bin+"/probe")
	want = "gosu: chown " + q(ro) + ": 0 of 2 changed, 2 skipped (cannot be changed)\n" +
		"gosu: skipped " + q(ro) + ": cannot change owner: read-only file system\n" +
		"gosu: skipped " + q(ro+"/a") + ": cannot change owner: read-only file system\n"
	if r.code != 0 || r.stderr != want || r.probe["Uid"] != "4242 4242 4242 4242" {
		t.Errorf("read-only mount: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// TestFollowRootSymlinks: on a tree that only root can change from / down
// (a tmpfs over /mnt, mode 0755, in a private mount namespace), a link root
// made, as /var/run -> /run is, is refused by default with a message that
// names the option, and followed with --follow-root-symlinks, by --chown
// and by the /PATH user spec alike; a link a user made is refused either
// way.
func TestFollowRootSymlinks(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	script := `G=$1; P=$2
mount -t tmpfs -o mode=0755 none /mnt
mkdir -p /mnt/run/app /mnt/var /mnt/home/u
ln -s /mnt/run /mnt/var/run; ln -s ../run /mnt/var/rel; ln -s /mnt/run /mnt/home/u/run
chown 2000:2000 /mnt/run/app /mnt/home/u /mnt/home/u/run; touch /mnt/run/app/f
$G /mnt/var/run/app $P >/dev/null 2>/tmp/gosu-paths-err.$$; echo "owner.default=$?:$(cat /tmp/gosu-paths-err.$$)"
echo "owner.follow=$($G --follow-root-symlinks /mnt/var/rel/app $P | grep '^Uid=')"
$G --follow-root-symlinks /mnt/home/u/run/app $P >/dev/null 2>&1; echo "owner.userlink=$?"
$G --chown=/mnt/var/run/app 4242:4343 true 2>/tmp/gosu-paths-err.$$; echo "chown.default=$?:$(cat /tmp/gosu-paths-err.$$)"
echo "chown.before=$(stat -c %u /mnt/run/app/f)"
$G --follow-root-symlinks --chown=/mnt/home/u/run/app 4242:4343 true 2>/dev/null; echo "chown.userlink=$?:$(stat -c %u /mnt/run/app/f)"
$G --follow-root-symlinks --chown=/mnt/var/run/app 4242:4343 true; echo "chown.follow=$?:$(stat -c %u:%g /mnt/run/app/f)"
rm -f /tmp/gosu-paths-err.$$`
	r := run(t, nil, unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh", bin+"/gosu", bin+"/probe")
	want := map[string]string{
		"owner.default":  `1:error: failed switching to '/mnt/var/run/app': owner of "/mnt/var/run/app": "/mnt/var/run" is a symbolic link (to "/mnt/run"), which is not followed: give the path it leads to, or --follow-root-symlinks (only root can have made this one)`,
		"owner.follow":   "Uid=2000 2000 2000 2000",
		"owner.userlink": "1",
		"chown.default":  `1:error: --chown: chown "/mnt/var/run/app": cannot open: "/mnt/var/run" is a symbolic link (to "/mnt/run"), which is not followed: give the path it leads to, or --follow-root-symlinks (only root can have made this one)`,
		"chown.before":   "0",
		"chown.userlink": "1:0",
		"chown.follow":   "0:4242:4343",
	}
	for k, v := range want {
		if r.probe[k] != v {
			t.Errorf("%s = %q, want %q", k, r.probe[k], v)
		}
	}
	if t.Failed() {
		t.Logf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func mkdirAll(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestProcLinksNotFollowed: a user starts a setuid-root program (a copy of
// sleep stands for su waiting for a password) in a directory of another
// user's. /proc/PID and its links are then root's, in directories only
// root can write, and /proc/PID/cwd leads to that directory:
// --follow-root-symlinks followed it, so --chown=/proc/PID/cwd gave the
// directory to the user and the /PATH spec ran as its owner. No link in
// /proc is followed now.
func TestProcLinksNotFollowed(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	sleep := needTool(t, "sleep", "coreutils")
	dir := publicDir(t)
	victim := dir + "/victim"
	mkdirAll(t, victim+"/sub")
	if err := os.WriteFile(victim+"/sub/f", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{victim, victim + "/sub", victim + "/sub/f"} {
		if err := os.Chown(p, 999, 999); err != nil {
			t.Fatal(err)
		}
	}
	prog, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	suid := dir + "/suid-sleep"
	if err := os.WriteFile(suid, prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=2000", "--regid=2000", "--clear-groups", suid, "60")
	cmd.Dir = victim
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := strconv.Itoa(cmd.Process.Pid)
	// Wait until the program runs, setuid root: /proc/PID is then root's.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var st unix.Stat_t
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		if exe == suid && unix.Stat("/proc/"+pid, &st) == nil && st.Uid == 0 {
			break
		}
		if time.Now().After(deadline) {
			need(t, false, "the setuid copy of sleep did not run as root (a nosuid mount?): "+exe)
		}
		time.Sleep(10 * time.Millisecond)
	}
	q := strconv.Quote
	link := "/proc/" + pid + "/cwd"
	msg := q(link) + " is a symbolic link (to " + q(victim) + "), a /proc link that a process chose, which is not followed: give the path it leads to\n"
	r := gosu(t, "--follow-root-symlinks", link, bin+"/probe")
	if want := "error: failed switching to '" + link + "': owner of " + q(link) + ": " + msg; r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("/PATH: exit %d, stdout %q, stderr %q, want 1, %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, nil, bin+"/gosu", "--follow-root-symlinks", "--chown="+link, "2000:2000", "true")
	if want := "error: --chown: chown " + q(link) + ": cannot open: " + msg; r.code != 1 || r.stderr != want {
		t.Errorf("--chown: exit %d, stderr %q, want 1, %q", r.code, r.stderr, want)
	}
	for _, p := range []string{victim, victim + "/sub", victim + "/sub/f"} {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil || st.Uid != 999 || st.Gid != 999 {
			t.Errorf("%s: %d:%d (%v), want 999:999", p, st.Uid, st.Gid, err)
		}
	}
}

// TestChownDotDotOutOfMovedDirectory: an entrypoint started in
// /base/mnt/vol/a/app (the volume /base/mnt/vol is the user's) gives
// --chown=../.. to mean the volume. The user moves the working directory to
// /base/mnt/vol/app, so "../.." is /base/mnt, the directory the volume is
// mounted in: gosu gave it, and everything in it on its file system, to the
// user. A ".." out of a directory a user could have moved is refused now.
// (All on tmpfs mounts, in a private mount namespace.)
func TestChownDotDotOutOfMovedDirectory(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	setpriv := needTool(t, "setpriv", "util-linux")
	base := publicDir(t)
	script := `B=$1; G=$2; S=$3
mount -t tmpfs -o mode=0755 none $B
mkdir -p $B/mnt/vol; touch $B/mnt/rootfile
mount -t tmpfs -o mode=0755 none $B/mnt/vol
mkdir -p $B/mnt/vol/a/app; chown -R 2000:2000 $B/mnt/vol
cd $B/mnt/vol/a/app
$S --reuid=2000 --regid=2000 --clear-groups mv $B/mnt/vol/a/app $B/mnt/vol/app
$G --chown=../.. 2000:2000 true; echo "rc=$?"
echo "owners=$(stat -c %u:%g $B/mnt $B/mnt/rootfile | tr '\n' ' ')"
cd $B/mnt/vol/app && $G --chown=.. 2000:2000 true 2>/dev/null; echo "one.rc=$?"
cd / && $G --chown=$B/mnt/vol 2000:2000 true; echo "absolute.rc=$?"`
	r := run(t, nil, unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh", base, bin+"/gosu", setpriv)
	want := map[string]string{"rc": "1", "owners": "0:0 0:0 ", "one.rc": "1", "absolute.rc": "0"}
	for k, v := range want {
		if r.probe[k] != v {
			t.Errorf("%s = %q, want %q", k, r.probe[k], v)
		}
	}
	msg := `error: --chown: chown "../..": cannot open: ".." climbs out of a directory a user could have moved: give the path from /` + "\n"
	if r.stderr != msg {
		t.Errorf("stderr %q, want %q", r.stderr, msg)
	}
	if t.Failed() {
		t.Logf("exit %d, stdout %q", r.code, r.stdout)
	}
}
