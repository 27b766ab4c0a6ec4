// Package e2e runs the built gosu binary for real: as root, with fixture
// accounts bind-mounted over /etc/passwd and /etc/group in private mount
// namespaces (the machine's /etc is never touched), asserting what the kernel
// reports in /proc/<pid>/status.
package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gosu/internal/testenv"
)

// bin holds the freshly built gosu, probe and withaccounts binaries;
// accounts holds the fixture passwd and group files. setup fills both.
var (
	bin, accounts string
	setupOnce     sync.Once
	setupErr      error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bin != "" {
		os.RemoveAll(bin)
	}
	os.Exit(code)
}

// setup builds the binaries once per run; every test calls it first. It
// runs inside m.Run, where the go command records the files a test opens.
func setup(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() { setupErr = build() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func build() error {
	dir, err := os.MkdirTemp("", "gosu-e2e-")
	if err != nil {
		return err
	}
	bin = dir
	// Every user the tests switch to must be able to reach the binaries.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if accounts, err = filepath.Abs("testdata/accounts"); err != nil {
		return err
	}
	if err := dependOnSources(".."); err != nil {
		return err
	}
	// The release build: static, trimmed, symbols kept.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-w", "-o", dir+"/",
		"./cmd/gosu", "./e2e/probe", "./e2e/withaccounts", "./e2e/tiocsti", "./e2e/fsops", "./e2e/nolandlock", "./e2e/signals")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.New("building test binaries: " + err.Error() + "\n" + string(out))
	}
	return nil
}

// dependOnSources opens every Go source and module file under root. The go
// command caches test results keyed on the files a test opened; the binaries
// built here come from packages this one does not import, so without this a
// change to cmd/gosu would leave a stale, cached pass.
func dependOnSources(root string) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name := d.Name(); strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return nil
	})
}

func ci() bool { return testenv.CI() }

// need builds the binaries, then skips (or, under CI=true, fails) the test
// when ok is false.
func need(t *testing.T, ok bool, reason string) {
	t.Helper()
	setup(t)
	testenv.Need(t, ok, reason)
}

func needRoot(t *testing.T) {
	t.Helper()
	need(t, os.Geteuid() == 0, "needs root: switching users and mount namespaces only work as root")
}

// needTool returns the path of a program the test needs.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	setup(t)
	return testenv.NeedTool(t, name, pkg)
}

// result is what a command did: its output and exit status, and the probe's
// key=value lines when the probe ran.
type result struct {
	stdout, stderr string
	code           int
	probe          map[string]string
}

// run runs argv with the given environment (nil: ours) and no stdin.
func run(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run() // before the output is read: arguments are evaluated in order
	return resultOf(t, argv, stdout.String(), stderr.String(), err)
}

// resultOf is what a finished command did: its output, the exit status
// from err (what Run or Wait returned), and the probe's key=value lines.
func resultOf(t *testing.T, argv []string, stdout, stderr string, err error) result {
	t.Helper()
	r := result{stdout: stdout, stderr: stderr, probe: map[string]string{}}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %q: %v", argv, err)
	}
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.probe[k] = v
		}
	}
	return r
}

// withAccounts prefixes argv so that it runs with the fixture accounts.
func withAccounts(argv ...string) []string {
	return append([]string{bin + "/withaccounts", accounts + "/passwd", accounts + "/group"}, argv...)
}

// gosu runs the built gosu with the fixture accounts.
func gosu(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, withAccounts(append([]string{bin + "/gosu"}, args...)...)...)
}

// absent, as a wanted value, means the probe must not report the key.
const absent = "\x00absent"

// expect checks probe keys against wanted values.
func (r result) expect(t *testing.T, what string, want map[string]string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s: exit %d, stderr %q", what, r.code, r.stderr)
		return
	}
	for k, v := range want {
		got, ok := r.probe[k]
		if v == absent {
			if ok {
				t.Errorf("%s: %s = %q, want it absent", what, k, got)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

// publicDir is a temporary directory every user can reach (t.TempDir's parent
// is private to root), removed when the test ends.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gosu-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
