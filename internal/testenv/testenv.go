// Package testenv is for tests only: it decides what a test does when a
// prerequisite (root, a tool) is missing. It skips with the reason, except
// under CI=true, where every prerequisite must be installed and a missing
// one fails the test. No product package imports it.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether missing prerequisites are failures rather than skips.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips (or, under CI=true, fails) the test when ok is false.
func Need(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("%s (CI=true: this prerequisite must be installed)", reason)
	}
	t.Skip(reason)
}

// NeedRoot needs the test to run as root; why says what for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "needs root: "+why)
}

// NeedTool returns the path of a program the test needs, from Debian's
// package pkg.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	Need(t, err == nil, "needs "+name+" (apt-get install "+pkg+")")
	return path
}
