package e2e

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// sizeBudget is the whole binary's budget as released (built with the
// release toolchain), every feature included (init mode, the entrypoint
// steps): upstream gosu 1.19's amd64 binary built with Go 1.26 is
// 1,936,948 bytes, Debian's gosu 2,225,848.
const sizeBudget = 2000000

// releaseToolchain is the Go release that builds the released binaries
// (scripts/toolchain, read by scripts/release.sh too).
func releaseToolchain(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../scripts/toolchain")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestBinary checks gosu for amd64 as it is released (built with the
// release toolchain and the flags of scripts/release.sh, the version Go
// stamps for the checkout included): within the size budget, static,
// symbols kept (govulncheck reads them), and free of the packages upstream
// removed to shrink its size and scan surface. TestReleaseAssets holds the
// released asset itself to the same budget.
func TestBinary(t *testing.T) {
	setup(t)
	path := buildAsReleased(t)
	checkBudget(t, path)

	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if hasInterp(f) {
		t.Error("gosu has a program interpreter: it is not static")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("gosu links shared libraries %v", libs)
	}
	syms, err := f.Symbols()
	if err != nil || len(syms) == 0 {
		t.Fatalf("gosu has no symbols (%v): govulncheck needs them", err)
	}
	for _, s := range syms {
		for _, pkg := range []string{"net.", "net/", "crypto/", "fmt.", "log.", "text/template.", "encoding/json.", "os/exec."} {
			if strings.HasPrefix(s.Name, pkg) {
				t.Errorf("gosu contains %s (from %s): keep it out of the binary", s.Name, strings.TrimSuffix(pkg, "."))
				break
			}
		}
	}
}

// buildAsReleased builds gosu for amd64 as scripts/release.sh does: the
// release toolchain, -buildvcs=true, and -X main.Version with the version
// Go stamps for this checkout (read from a first build, as the script
// does). Both add bytes: the build settings and the version string.
func buildAsReleased(t *testing.T) string {
	t.Helper()
	toolchain := releaseToolchain(t)
	dir := t.TempDir()
	build := func(out string, flags ...string) {
		cmd := exec.Command("go", append(append([]string{"build", "-trimpath", "-buildvcs=true"}, flags...), "-o", out, "./cmd/gosu")...)
		cmd.Dir = ".."
		// The go command fetches the release toolchain from the module
		// proxy like a module (about 76 MB, once per machine).
		// safe.directory: the checkout may belong to another user (a CI
		// runner's), and the go command asks git for the build's revision.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOTOOLCHAIN="+toolchain, "GOFLAGS=",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
		if out, err := cmd.CombinedOutput(); err != nil {
			need(t, false, "building with the release toolchain "+toolchain+" (from the Go module proxy) in a git checkout: "+err.Error()+"\n"+string(out))
		}
	}
	build(dir + "/probe")
	info, err := buildinfo.ReadFile(dir + "/probe")
	if err != nil {
		t.Fatal(err)
	}
	version, ok := strings.CutPrefix(info.Main.Version, "v")
	need(t, ok, "go stamped no module version ("+info.Main.Version+"): release builds need git")
	build(dir+"/gosu", "-ldflags=-w -X main.Version="+version)
	return dir + "/gosu"
}

// checkBudget fails the test when the binary at path is over the budget.
func checkBudget(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (budget %d, %d to spare)", path, st.Size(), sizeBudget, sizeBudget-st.Size())
	if st.Size() > sizeBudget {
		t.Errorf("%s is %d bytes, over the budget of %d: find what grew with 'go tool nm -size -sort size'", path, st.Size(), sizeBudget)
	}
}
