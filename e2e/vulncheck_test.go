package e2e

import (
	"go/version"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestVulncheck runs scripts/vulncheck.sh (govulncheck offline, against the
// pinned Go vulnerability database) on the source and on the released amd64
// binary: no finding at all. The binary the tests built with this machine's
// Go goes through the same run as a control: a Go older than the newest fix
// of the standard library in the pinned database (go1.26.10) must be flagged,
// which proves the database is real and the script fails when it should.
func TestVulncheck(t *testing.T) {
	dir := release(t)
	repo := repoRoot(t)
	dependOnFiles(t, repo, "scripts/vulncheck.sh", "scripts/tools.sh", "scripts/toolchain")
	control := version.Compare(runtime.Version(), "go1.26.10") < 0
	args := []string{repo + "/scripts/vulncheck.sh", dir + "/gosu-amd64"}
	if control {
		args = append(args, bin+"/gosu")
	}
	start := time.Now()
	out, err := exec.Command("bash", args...).CombinedOutput()
	t.Logf("scripts/vulncheck.sh took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	report := string(out)
	clean := func(what string) {
		t.Helper()
		s := section(report, "govulncheck "+what)
		if s != "No vulnerabilities found.\n" {
			t.Errorf("govulncheck %s: %q, want No vulnerabilities found.", what, s)
		}
	}
	clean("source (" + repo + ", ./...)")
	clean("-mode=binary " + dir + "/gosu-amd64")
	pinned := regexp.MustCompile(`(?m)^GOVULNCHECK=golang.org/x/vuln/cmd/(govulncheck@v[0-9.]+)$`).FindStringSubmatch(string(readFile(t, repo+"/scripts/tools.sh")))
	if pinned == nil || !strings.Contains(report, "; "+pinned[1]+"; "+releaseToolchain(t)+"\n") {
		t.Errorf("the scan did not use the pinned govulncheck (scripts/tools.sh: %q) with the release toolchain %s", pinned, releaseToolchain(t))
	}
	if !control {
		t.Logf("no control: this machine's %s has no known vulnerability in the pinned database", runtime.Version())
		if err != nil {
			t.Errorf("scripts/vulncheck.sh: %v", err)
		}
		return
	}
	s := section(report, "govulncheck -mode=binary "+bin+"/gosu")
	if err == nil || !strings.Contains(s, "FAIL: ") || !strings.Contains(s, "\n  GO-2026-6809\n") {
		t.Errorf("scripts/vulncheck.sh passed a binary built with %s (%v):\n%s", runtime.Version(), err, s)
	}
}
