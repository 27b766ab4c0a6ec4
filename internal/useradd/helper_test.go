package useradd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"gosu/internal/account"
	"gosu/internal/testenv"
)

// The test binary doubles as a helper process, for what one process cannot
// show: concurrent writers, a writer killed mid-way, a private mount
// namespace with a read-only or bind-mounted /etc, a non-root uid.
const helperEnv = "GOSU_USERADD_HELPER"

// job is what a helper process does: mounts (in its own private mount
// namespace), then a switch to UID/GID, then Check (CheckRemap with Remap)
// and Apply Times times.
type job struct {
	Files  Files
	Req    Request
	Remap  *Remap
	Mounts []mount
	UID    int // -1: stay
	GID    int
	Times  int
}

// mount is one mount(2) call: a bind mount of Src on Dst, read-only when
// RO (a second, remounting call, as mount(8) does).
type mount struct {
	Src, Dst string
	RO       bool
}

// outcome is what a helper reports on stdout.
type outcome struct {
	Plan     *Plan
	CheckErr string
	ApplyErr string
	Kind     string // which Err variable the error is, if any
}

func TestMain(m *testing.M) {
	if j := os.Getenv(helperEnv); j != "" {
		os.Exit(runHelper(j))
	}
	os.Exit(m.Run())
}

func runHelper(spec string) int {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		os.Stderr.WriteString("helper: " + err.Error() + "\n")
		return 2
	}
	for _, m := range j.Mounts {
		if err := unix.Mount(m.Src, m.Dst, "", unix.MS_BIND, ""); err != nil {
			os.Stderr.WriteString("helper: bind " + m.Src + " " + m.Dst + ": " + err.Error() + "\n")
			return 2
		}
		if m.RO {
			if err := unix.Mount("", m.Dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				os.Stderr.WriteString("helper: remount ro " + m.Dst + ": " + err.Error() + "\n")
				return 2
			}
		}
	}
	if j.UID >= 0 {
		// Go's syscall wrappers change every thread (since Go 1.16).
		if err := syscall.Setgroups(nil); err != nil {
			os.Stderr.WriteString("helper: setgroups: " + err.Error() + "\n")
			return 2
		}
		if err := syscall.Setresgid(j.GID, j.GID, j.GID); err != nil {
			os.Stderr.WriteString("helper: setresgid: " + err.Error() + "\n")
			return 2
		}
		if err := syscall.Setresuid(j.UID, j.UID, j.UID); err != nil {
			os.Stderr.WriteString("helper: setresuid: " + err.Error() + "\n")
			return 2
		}
	}
	var out outcome
	for range max(j.Times, 1) {
		p, err := j.Files.Check(j.Req)
		if j.Remap != nil {
			p, err = j.Files.CheckRemap(*j.Remap)
		}
		out = outcome{Plan: p}
		if err != nil {
			out.CheckErr, out.Kind = err.Error(), kind(err)
			break
		}
		if err := j.Files.Apply(p); err != nil {
			out.ApplyErr, out.Kind = err.Error(), kind(err)
			break
		}
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(b)
	return 0
}

func kind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{{ErrConflict, "conflict"}, {ErrInvalid, "invalid"}, {ErrLocked, "locked"}, {ErrUnsafe, "unsafe"}, {ErrNoUser, "nouser"},
		{ErrUIDTaken, "uidtaken"}, {syscall.EROFS, "erofs"}, {syscall.EACCES, "eacces"}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}

// helperCmd prepares a helper process for j. With mounts it gets a private
// mount namespace (Go's fork makes / MS_REC|MS_PRIVATE after unshare), so
// nothing it mounts is seen outside or outlives it.
func helperCmd(t testing.TB, j job) *exec.Cmd {
	t.Helper()
	spec, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
	if len(j.Mounts) > 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	}
	return cmd
}

// runJob runs a helper to its end and returns what it reported.
func runJob(t testing.TB, j job) outcome {
	t.Helper()
	cmd := helperCmd(t, j)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	var out outcome
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("helper output %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	return out
}

func need(t testing.TB, ok bool, reason string) {
	t.Helper()
	testenv.Need(t, ok, reason)
}

func needRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "adding entries for other uids, chown and mount namespaces only work as root")
}

// fixture holds account files in a fresh directory that every uid can
// reach, so that a helper switched to another uid can use it too.
type fixture struct {
	dir     string
	gshadow string // Debian has one; this package leaves it alone
	Files
}

const (
	basePasswd = "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"games:x:5:60:games:/usr/games:/usr/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
		"app:x:1000:1000:App:/home/app:/bin/sh\n"
	baseGroup = "root:x:0:\n" +
		"daemon:x:1:\n" +
		"games:x:60:\n" +
		"users:x:100:games\n" +
		"app:x:1000:\n" +
		"nogroup:x:65534:\n"
	baseShadow = "root:*:19000:0:99999:7:::\n" +
		"daemon:*:19000:0:99999:7:::\n" +
		"games:*:19000:0:99999:7:::\n" +
		"nobody:*:19000:0:99999:7:::\n" +
		"app:!:19000:0:99999:7:::\n"
	baseGshadow = "root:*::\n" +
		"daemon:*::\n" +
		"games:*::\n" +
		"users:*::games\n" +
		"app:!::\n" +
		"nogroup:*::\n"
)

// newFixture writes the base files (a shadow and gshadow only when asked
// for) into a new directory, owned and moded as on Debian when root.
func newFixture(t testing.TB, shadow bool) *fixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "useradd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, Files: Files{
		Passwd: filepath.Join(etc, "passwd"),
		Group:  filepath.Join(etc, "group"),
		Shadow: filepath.Join(etc, "shadow"),
		Lock:   filepath.Join(etc, ".pwd.lock"),
	}, gshadow: filepath.Join(etc, "gshadow")}
	f.write(t, f.Passwd, basePasswd, 0o644)
	f.write(t, f.Group, baseGroup, 0o644)
	if shadow {
		f.write(t, f.Shadow, baseShadow, 0o640)
		f.write(t, f.gshadow, baseGshadow, 0o640)
		if os.Geteuid() == 0 {
			for _, p := range []string{f.Shadow, f.gshadow} {
				if err := os.Chown(p, 0, 42); err != nil { // group shadow
					t.Fatal(err)
				}
			}
		}
	}
	return f
}

func (f *fixture) write(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) home(name string) string { return filepath.Join(f.dir, "home", name) }

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// snapshot is a file's content and what stat says about it, to prove that
// nothing was written.
type snapshot struct {
	content string
	st      unix.Stat_t
}

func snap(t testing.TB, paths ...string) map[string]snapshot {
	t.Helper()
	m := make(map[string]snapshot)
	for _, p := range paths {
		var s snapshot
		if err := unix.Lstat(p, &s.st); err != nil && err != unix.ENOENT {
			t.Fatal(err)
		}
		if s.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			s.content = read(t, p)
		}
		m[p] = s
	}
	return m
}

// unchanged fails unless every file is byte-identical with the same inode,
// mtime and ctime as in before.
func unchanged(t testing.TB, before map[string]snapshot) {
	t.Helper()
	after := snap(t, keys(before)...)
	for p, b := range before {
		a := after[p]
		if a.content != b.content {
			t.Errorf("%s changed:\n%q\nnow\n%q", p, b.content, a.content)
		}
		if a.st.Ino != b.st.Ino || a.st.Mtim != b.st.Mtim || a.st.Ctim != b.st.Ctim || a.st.Mode != b.st.Mode {
			t.Errorf("%s was written: ino %d->%d mtime %v->%v ctime %v->%v", p, b.st.Ino, a.st.Ino, b.st.Mtim, a.st.Mtim, b.st.Ctim, a.st.Ctim)
		}
	}
}

func keys(m map[string]snapshot) []string {
	var k []string
	for p := range m {
		k = append(k, p)
	}
	return k
}

// wellFormed fails unless every entry line of path is one package account
// accepts, and returns them.
func wellFormed(t testing.TB, path string, group bool) []string {
	t.Helper()
	content := read(t, path)
	if content != "" && !strings.HasSuffix(content, "\n") {
		t.Errorf("%s does not end with a newline: %q", path, content)
	}
	var lines []string
	for i, line := range strings.Split(strings.TrimSuffix(content, "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		var err error
		if group {
			_, err = account.ParseGroup([]byte(line))
		} else {
			_, err = account.ParseUser([]byte(line))
		}
		if err != nil {
			t.Errorf("%s:%d %q is malformed: %v", path, i+1, line, err)
		}
		lines = append(lines, line)
	}
	return lines
}

// leftovers lists temporary files left in dir.
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.gosu-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
