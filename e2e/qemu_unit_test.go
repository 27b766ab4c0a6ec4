package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// reexecTests are the unit tests that start their own test binary again
// (os.Executable or os.Args[0], for a helper in a private mount namespace,
// another user, or a fresh process to kill): without binfmt_misc (not set up
// here, and not something a test may change) the kernel cannot run a foreign
// binary, so under qemu-user they fail with "exec format error" before they
// test anything. They are skipped there, by name; everything else runs.
var reexecTests = []string{
	"TestUnreadable",                                  // internal/account: reads as nobody in a helper
	"TestMountsNotEntered", "TestUnreadableDirectory", // internal/ownership: helper in a mount namespace / with setpriv
	"TestExitStatus", "TestSuccessCodes", "TestStartFailure", // internal/supervise: the parent starts the test binary
	"TestForwardSignals", "TestReapOrphans", "TestLeftoversGetTERM", "TestLeftoversGetKILL", "TestParentLockedDown",
	"TestConcurrentProcesses", "TestKilledMidway", "TestReadOnlyEtc", "TestOpenShift", // internal/useradd: writers in helpers
	"TestNotRoot", "TestBindMountedPasswd", "TestShadow", "TestShadowToolsInterop",
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
	skip := "^(" + strings.Join(reexecTests, "|") + ")$"
	for _, arch := range []struct{ goarch, qemu string }{{"s390x", "qemu-s390x-static"}, {"mips64le", "qemu-mips64el-static"}} {
		t.Run(arch.goarch, func(t *testing.T) {
			qemu := needTool(t, arch.qemu, "qemu-user-static")
			start := time.Now()
			// The release toolchain and -trimpath, as the release is built:
			// the code under test is the released compiler's, and the
			// standard library compiled for the release build is reused.
			cmd := exec.Command("go", "test", "-trimpath", "-count=1", "-exec", qemu, "-skip", skip, "./internal/...")
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "GOARCH="+arch.goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN="+releaseToolchain(t))
			out, err := cmd.CombinedOutput()
			t.Logf("GOARCH=%s go test -trimpath -exec %s ./internal/... took %v:\n%s", arch.goarch, arch.qemu, time.Since(start).Round(time.Millisecond), out)
			if err != nil {
				t.Errorf("unit tests under %s: %v", arch.qemu, err)
			}
			if !strings.Contains(string(out), "ok  \tgosu/internal/account\t") {
				t.Errorf("the account parser's tests did not run under %s", arch.qemu)
			}
		})
	}
}
