package e2e

import (
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
// release toolchain and flags): within the size budget, static, symbols
// kept (govulncheck reads them), and free of the packages upstream removed
// to shrink its size and scan surface.
func TestBinary(t *testing.T) {
	setup(t)
	toolchain := releaseToolchain(t)
	path := t.TempDir() + "/gosu"
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-w", "-o", path, "./cmd/gosu")
	build.Dir = ".."
	// The go command fetches the release toolchain from the module proxy
	// like a module (about 76 MB, once per machine).
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOTOOLCHAIN="+toolchain, "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		need(t, false, "building with the release toolchain "+toolchain+" (from the Go module proxy): "+err.Error()+"\n"+string(out))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static amd64 gosu built with %s: %d bytes (budget %d, %d to spare)", toolchain, st.Size(), sizeBudget, sizeBudget-st.Size())
	if st.Size() > sizeBudget {
		t.Errorf("gosu is %d bytes, over the budget of %d: find what grew with 'go tool nm -size -sort size'", st.Size(), sizeBudget)
	}

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
