package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// qemuSkips are the unit tests that cannot run under qemu-user, by package,
// each with the reason; everything else runs.
//
// Most start their own test binary again (os.Executable or os.Args[0], for a
// helper in a private mount namespace, as another user, or a process to
// kill): without binfmt_misc (not set up here, and not something a test may
// change) the kernel cannot run a foreign binary, and they fail with "exec
// format error" before they test anything. The Landlock ones need the
// kernel's Landlock, which qemu-user does not pass through (ENOSYS: "function
// not implemented"). A new unit test that starts its own binary belongs here
// too: under qemu it fails with "exec format error".
var qemuSkips = map[string][]string{
	"./internal/account":   {"TestUnreadable"},                                  // reads as nobody in a helper
	"./internal/ownership": {"TestMountsNotEntered", "TestUnreadableDirectory"}, // helpers in a mount namespace, under setpriv
	"./internal/supervise": {"TestExitStatus", "TestSuccessCodes", "TestStartFailure", "TestForwardSignals", // the parent starts the test binary
		"TestReapOrphans", "TestLeftoversGetTERM", "TestLeftoversGetKILL", "TestParentLockedDown",
		"TestLeftoversAllGetTERM", "TestThreadsBlockSignals", "TestLeftoversTERMOnce", "TestParentNoCoreDump",
		"TestTracedCommandExit"},
	"./internal/useradd": {"TestConcurrentProcesses", "TestKilledMidway", "TestReadOnlyEtc", "TestOpenShift", // writers in helpers
		"TestNotRoot", "TestBindMountedPasswd", "TestShadow", "TestShadowToolsInterop",
		"TestRemapBindMounted", "TestRemapKilledMidway", "TestRemapWithUsermod", "TestRemapReadOnlyEtc"},
	"./internal/landlock": {"TestOpen", "TestCheck", "TestRestrict", "TestOlderABIs"}, // Landlock: ENOSYS under qemu-user
}

// TestUnitTestsUnderQemu runs the unit tests of every internal package built
// for big-endian s390x and for mips64el (64-bit MIPS, which numbers its
// signals its own way) under qemu-user-static: the account parser, the
// capability masks, the directory-entry parser of the ownership walk and the
// rest see the byte order and the constants of those machines. The system
// calls go to this kernel, so the tests that need root run as root.
func TestUnitTestsUnderQemu(t *testing.T) {
	repo := repoRoot(t)
	needTool(t, "go", "golang")
	// One go test for the packages without skips, one per package with.
	list := exec.Command("go", "list", "./internal/...")
	list.Dir = repo
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list ./internal/...: %v", err)
	}
	runs := [][]string{{"-skip", "^$"}}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pkg := "./" + strings.TrimPrefix(line, "gosu/")
		if skips := qemuSkips[pkg]; skips != nil {
			runs = append(runs, []string{"-skip", "^(" + strings.Join(skips, "|") + ")$", pkg})
		} else {
			runs[0] = append(runs[0], pkg)
		}
	}
	if len(runs) != len(qemuSkips)+1 {
		t.Errorf("qemuSkips names a package that is gone: %v", qemuSkips)
	}
	for _, arch := range []struct{ goarch, qemu string }{{"s390x", "qemu-s390x-static"}, {"mips64le", "qemu-mips64el-static"}} {
		t.Run(arch.goarch, func(t *testing.T) {
			qemu := needTool(t, arch.qemu, "qemu-user-static")
			start := time.Now()
			var all []byte
			for _, r := range runs {
				// The release toolchain and -trimpath, as the release is
				// built: the code under test is the released compiler's, and
				// the standard library compiled for the release is reused.
				//
				// A run that hangs is tried once more. qemu-user 7.2 can
				// leave a forked child blocked for good: the child's exit
				// takes qemu's clone_lock, which its fork does not hold, so
				// a thread the guest's runtime was starting at the fork
				// leaves it locked in the child (seen once in some 300 runs:
				// TestRunErrorWraps' child after its failed exec, in a futex
				// with every signal blocked, its parent in wait4).
				var out []byte
				var err error
				for attempt := 1; ; attempt++ {
					cmd := exec.Command("go", append([]string{"test", "-trimpath", "-count=1", "-timeout=4m", "-exec", qemu}, r...)...)
					cmd.Dir = repo
					cmd.Env = append(os.Environ(), "GOARCH="+arch.goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN="+releaseToolchain(t))
					out, err = cmd.CombinedOutput()
					if err == nil || attempt == 2 || !strings.Contains(string(out), "panic: test timed out") {
						break
					}
					t.Logf("go test %s under %s hung; trying again:\n%s", strings.Join(r, " "), arch.qemu, out)
				}
				all = append(all, out...)
				if err != nil {
					t.Errorf("go test %s under %s: %v", strings.Join(r, " "), arch.qemu, err)
				}
				if strings.Contains(string(out), "exec format error") {
					t.Errorf("a unit test started a %s binary, which this kernel cannot run: add it to qemuSkips", arch.goarch)
				}
			}
			out := all
			t.Logf("GOARCH=%s go test -trimpath -exec %s ./internal/... took %v:\n%s", arch.goarch, arch.qemu, time.Since(start).Round(time.Millisecond), out)
			if !strings.Contains(string(out), "ok  \tgosu/internal/account\t") {
				t.Errorf("the account parser's tests did not run under %s", arch.qemu)
			}
		})
	}
}
