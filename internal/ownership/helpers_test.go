package ownership

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/testenv"
)

// The new owner in every test: ids that no file of the machine has.
const (
	newUID = 4242
	newGID = 4343
)

// helperEnv makes the test binary run helperMain instead of the tests: a
// Fix in a process of its own, for what a test cannot do to its own
// process (a private mount namespace, fewer capabilities).
const helperEnv = "OWNERSHIP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
	case "huge":
		hugeMain(os.Args[1])
		return
	default:
		helperMain()
		return
	}
	os.Exit(m.Run())
}

// helperResult is what helperMain prints as JSON.
type helperResult struct {
	Stats   Stats
	Summary string
	Err     string
}

// helperMain runs Fix(args[0]) giving it to newUID:newGID and prints the
// result. It always exits 0 after printing: the test judges.
func helperMain() {
	args := os.Args[1:]
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "helper: want PATH")
		os.Exit(2)
	}
	s, err := Fix(args[0], New(newUID, newGID))
	r := helperResult{Stats: s, Summary: s.Summary()}
	if err != nil {
		r.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// runHelper runs the helper on path under the given wrapper command (such
// as unshare or setpriv), with dir as its working directory, and returns its
// result and whatever it printed after the JSON line (a wrapper script's
// output).
func runHelper(t *testing.T, dir string, wrapper []string, path string) (helperResult, string) {
	t.Helper()
	return runHelperIn(t, dir, nil, wrapper, path)
}

// runHelperIn is runHelper with the helper (or its wrapper) started with
// attr: in a user namespace, say.
func runHelperIn(t *testing.T, dir string, attr *syscall.SysProcAttr, wrapper []string, path string) (helperResult, string) {
	t.Helper()
	needReexec(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, wrapper...), self, path)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.SysProcAttr = attr
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if e, ok := err.(*exec.ExitError); ok {
			stderr = string(e.Stderr)
		}
		t.Fatalf("%v: %v\n%s%s", argv, err, out, stderr)
	}
	first, rest, _ := strings.Cut(string(out), "\n")
	var r helperResult
	if err := json.Unmarshal([]byte(first), &r); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	return r, rest
}

// needReexec skips a test that runs its own binary again where it cannot:
// under qemu-user without binfmt (GOARCH=s390x go test -exec
// qemu-s390x-static), the kernel cannot execute the foreign binary
// ("exec format error"). Only those tests skip there.
func needReexec(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	if err := cmd.Run(); errors.Is(err, syscall.ENOEXEC) {
		t.Skip("cannot run its own binary again (emulated " + runtime.GOARCH + " without binfmt): " + err.Error())
	}
}

// q quotes a path as gosu prints it.
func q(path string) string { return strconv.Quote(path) }

func need(t *testing.T, ok bool, reason string) {
	t.Helper()
	testenv.Need(t, ok, reason)
}

func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "only root can give files away")
}

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return testenv.NeedTool(t, name, pkg)
}

// scratch returns a fresh directory, searchable by everyone (helpers and
// swappers may run with fewer rights), removed at the end even when a test
// left immutable files or read-only directories behind.
func scratch(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mkdir(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func lchown(t *testing.T, path string, uid, gid int) {
	t.Helper()
	if err := os.Lchown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// lstat is what the kernel says of path itself.
func lstat(t *testing.T, path string) unix.Statx_t {
	t.Helper()
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// owner is "uid:gid" of path itself.
func owner(t *testing.T, path string) string {
	t.Helper()
	st := lstat(t, path)
	return strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
}

const (
	rootOwner = "0:0"
	newOwner  = "4242:4343"
)

func wantOwner(t *testing.T, path, want string) {
	t.Helper()
	if got := owner(t, path); got != want {
		t.Errorf("%s: owner %s, want %s", path, got, want)
	}
}

// owners maps every entry below root (root included, as ".") to its owner.
func owners(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = owner(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fix runs Fix with the default options for newUID:newGID.
func fix(t *testing.T, path string) Stats {
	t.Helper()
	s, err := Fix(path, New(newUID, newGID))
	if err != nil {
		t.Fatalf("Fix(%s): %v", path, err)
	}
	return s
}

// openFds counts this process's open descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own
}

// noLeaks checks, at the end of the test, that the descriptors and
// goroutines of before are all that is left.
func noLeaks(t *testing.T) {
	t.Helper()
	fds, gs := openFds(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		if got := openFds(t); got != fds {
			t.Errorf("open descriptors: %d after, %d before", got, fds)
		}
		// Goroutines that returned may take a moment to be gone.
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > gs && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := runtime.NumGoroutine(); got > gs {
			t.Errorf("goroutines: %d after, %d before", got, gs)
		}
	})
}
