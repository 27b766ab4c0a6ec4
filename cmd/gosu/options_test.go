package main

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, rest, err := parseOptions([]string{"--pty", "--keep-caps=kill", "--keep-caps=net_raw", "--close-fds", "--keep-fds=3,4", "--add-groups=a,b", "--explain", "--", "--user", "cmd"})
	if err != nil || !o.PTY || o.KeepCaps != 1<<5|1<<13 || !o.CloseFDs || !slices.Equal(o.KeepFDs, []int{3, 4}) ||
		!slices.Equal(o.AddGroups, []string{"a", "b"}) || o.explain != "text" || !slices.Equal(rest, []string{"--user", "cmd"}) {
		t.Errorf("parseOptions = %+v, %q, %v", o, rest, err)
	}
	// Only words before the spec are options.
	if o, rest, err := parseOptions([]string{"app", "--pty"}); err != nil || o.PTY || !slices.Equal(rest, []string{"app", "--pty"}) {
		t.Errorf("after the spec: %+v, %q, %v", o, rest, err)
	}
	if o, _, err := parseOptions([]string{"--init", "--init-grace=0.5", "--init-success=143,0", "app", "x"}); err != nil ||
		!o.Init || o.InitGrace != 500*time.Millisecond || !slices.Equal(o.InitSuccess, []int{143, 0}) {
		t.Errorf("init options: %+v, %v", o, err)
	}
	if o, _, _ := parseOptions([]string{"--init", "app", "x"}); o.InitGrace != defaultGrace {
		t.Errorf("default grace %v, want %v", o.InitGrace, defaultGrace)
	}
	for _, args := range [][]string{{"--nope", "a", "b"}, {"--pty=1", "a", "b"}, {"--pdeathsig", "a", "b"}, {"--keep-fds=3", "a", "b"},
		{"--init-grace=1", "a", "b"}, {"--init", "--init-grace=-1", "a", "b"}, {"--init", "--init-grace=NaN", "a", "b"},
		{"--init", "--init-success=256", "a", "b"}, {"--resolved=uid=0", "--init", "a"},
		{"--landlock-best-effort", "a", "b"}, {"--landlock-write=data", "a", "b"}, {"--landlock-read=", "a", "b"}, {"--resolved=x", "--landlock-write=/a", "a"}} {
		if _, _, err := parseOptions(args); err == nil {
			t.Errorf("parseOptions(%q): no error", args)
		}
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
		if !o.hidden && !strings.Contains(string(readme), "`--"+o.name) {
			t.Errorf("README.md does not describe --%s", o.name)
		}
	}
}

// TestEveryOptionSetsSomething: each entry of the option table changes the
// options it is given, so that no option can be accepted and then do
// nothing. A new option needs a sample value here.
func TestEveryOptionSetsSomething(t *testing.T) {
	samples := map[string]string{
		"keep-caps": "net_bind_service", "keep-fds": "3", "add-groups": "video", "pdeathsig": "TERM",
		"init-success": "143", "init-grace": "2.5", "chown": "/data", "chown-from": "1:2", "add-user": "app", "remap-user": "abc",
		"explain": "json", "resolved": "0:0::0::0:", "landlock-write": "/data", "landlock-read": "/usr",
	}
	for _, opt := range optionTable {
		if opt.set == nil {
			t.Errorf("--%s has no setter", opt.name)
			continue
		}
		v, ok := samples[opt.name]
		if opt.value != "" && !opt.optional && !ok {
			t.Errorf("--%s takes a value: add a sample to this test", opt.name)
			continue
		}
		o, _, err := parseOptions(nil)
		if err != nil {
			t.Fatal(err)
		}
		before := o
		if err := opt.set(&o, v); err != nil {
			t.Errorf("--%s=%s: %v", opt.name, v, err)
			continue
		}
		if reflect.DeepEqual(before, o) {
			t.Errorf("--%s=%s changed nothing", opt.name, v)
		}
	}
}
