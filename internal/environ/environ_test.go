package environ

import (
	"slices"
	"testing"

	"gosu/internal/spec"
)

func TestChanges(t *testing.T) {
	app := spec.Identity{UID: 1000, Home: "/home/app", Name: "app", Shell: "/bin/bash"}
	noEntry := spec.Identity{UID: 2000, Home: "/"}
	noShell := spec.Identity{UID: 1001, Home: "/", Name: "x"}
	for _, tc := range []struct {
		id   spec.Identity
		o    Options
		want []Change
	}{
		{app, Options{}, []Change{{"HOME", "/home/app"}}},
		{app, Options{KeepHome: true}, nil},
		{app, Options{Login: true}, []Change{{"HOME", "/home/app"}, {"USER", "app"}, {"LOGNAME", "app"}, {"SHELL", "/bin/bash"}}},
		{noEntry, Options{Login: true}, []Change{{"HOME", "/"}, {"USER", "2000"}, {"LOGNAME", "2000"}}},
		{noShell, Options{Login: true, KeepHome: true}, []Change{{"USER", "x"}, {"LOGNAME", "x"}, {"SHELL", "/bin/sh"}}},
	} {
		if got := Changes(tc.id, tc.o); !slices.Equal(got, tc.want) {
			t.Errorf("Changes(%+v, %+v) = %v, want %v", tc.id, tc.o, got, tc.want)
		}
	}
}

func TestApply(t *testing.T) {
	env := []string{"HOME=/root", "A=1", "HOME=/dup", "USER=root", "HOMEX=keep", "B"}
	got := Apply(env, []Change{{"HOME", "/home/app"}, {"USER", "app"}})
	want := []string{"A=1", "HOMEX=keep", "B", "HOME=/home/app", "USER=app"}
	if !slices.Equal(got, want) {
		t.Errorf("Apply = %q, want %q", got, want)
	}
}

func TestGet(t *testing.T) {
	env := []string{"PATHX=no", "PATH=/first", "PATH=/second", "EMPTY="}
	if v, ok := Get(env, "PATH"); !ok || v != "/first" {
		t.Errorf("Get(PATH) = %q, %v; want the first", v, ok)
	}
	if v, ok := Get(env, "EMPTY"); !ok || v != "" {
		t.Errorf("Get(EMPTY) = %q, %v", v, ok)
	}
	if _, ok := Get(env, "NONE"); ok {
		t.Errorf("Get(NONE) found something")
	}
}
