package main

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParseOptions(t *testing.T) {
	o, rest, err := parseOptions([]string{"--pty", "--keep-caps=chown", "--close-fds", "--keep-fds=3,4", "--add-groups=a,b", "--explain", "--", "--user", "cmd"})
	if err != nil || !o.pty || o.keepCaps != 1 || !o.closeFDs || !slices.Equal(o.keepFDs, []int{3, 4}) ||
		!slices.Equal(o.addGroups, []string{"a", "b"}) || o.explain != "text" || !slices.Equal(rest, []string{"--user", "cmd"}) {
		t.Errorf("parseOptions = %+v, %q, %v", o, rest, err)
	}
	// Only words before the spec are options.
	if o, rest, err := parseOptions([]string{"app", "--pty"}); err != nil || o.pty || !slices.Equal(rest, []string{"app", "--pty"}) {
		t.Errorf("after the spec: %+v, %q, %v", o, rest, err)
	}
	for _, args := range [][]string{{"--nope", "a", "b"}, {"--pty=1", "a", "b"}, {"--pdeathsig", "a", "b"}, {"--keep-fds=3", "a", "b"}} {
		if _, _, err := parseOptions(args); err == nil {
			t.Errorf("parseOptions(%q): no error", args)
		}
	}
}

func TestChildArgs(t *testing.T) {
	o, rest, _ := parseOptions([]string{"--pty", "--login-env", "--keep-fds=3", "--close-fds", "app", "--pty", "x"})
	got := childArgs("gosu", o.words, rest)
	want := []string{"gosu", "--login-env", "--keep-fds=3", "--close-fds", "--", "app", "--pty", "x"}
	if !slices.Equal(got, want) {
		t.Errorf("childArgs = %q, want %q", got, want)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM, "Kill": syscall.SIGKILL,
		"9": syscall.SIGKILL, "64": 64, "0": 0, "65": 0, "-1": 0, "BOGUS": 0, "": 0, "SIG": 0} {
		if got := parseSignal(in); got != want {
			t.Errorf("parseSignal(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestMergeGroups(t *testing.T) {
	if got := mergeGroups([]uint32{100, 50}, []uint32{50, 7, 7, 100, 8}); !slices.Equal(got, []uint32{100, 50, 7, 8}) {
		t.Errorf("mergeGroups = %v", got)
	}
}

// TestOptionsDocumented: the man page and the README describe every option.
func TestOptionsDocumented(t *testing.T) {
	man, err := os.ReadFile("../../docs/gosu.1")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range optionTable {
		if !strings.Contains(string(man), `\-\-`+strings.ReplaceAll(o.name, "-", `\-`)) {
			t.Errorf("docs/gosu.1 does not describe --%s", o.name)
		}
		if !strings.Contains(string(readme), "`--"+o.name) {
			t.Errorf("README.md does not describe --%s", o.name)
		}
	}
}
