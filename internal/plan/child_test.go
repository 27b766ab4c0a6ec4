package plan

import (
	"reflect"
	"strings"
	"syscall"
	"testing"

	"gosu/internal/drop"
)

// TestChildRoundTrip: what a supervising parent hands its fresh gosu reads
// back as exactly the switch the parent resolved.
func TestChildRoundTrip(t *testing.T) {
	for _, p := range []Plan{
		{Command: []string{"id"}, Target: drop.Target{UID: 1000, GID: 1000}},
		{Command: []string{"sh", "-c", "a:b", "--", "--resolved=x"}, CloseFDs: true, KeepFDs: []int{3, 9}, AllowUnsafeCaps: true,
			Target: drop.Target{UID: 4294967294, GID: 0, Groups: []uint32{50, 4294967294, 0}, KeepCaps: 1<<10 | 1<<40,
				LimitBounding: true, NoNewPrivs: true, ParentDeathSignal: syscall.SIGTERM}},
	} {
		argv := p.Child("/usr/local/bin/gosu")
		if argv[0] != "/usr/local/bin/gosu" || argv[2] != "--" || !reflect.DeepEqual(argv[3:], p.Command) {
			t.Fatalf("Child = %q", argv)
		}
		form, ok := strings.CutPrefix(argv[1], "--"+ResolvedOption+"=")
		if !ok {
			t.Fatalf("Child = %q: no --%s", argv, ResolvedOption)
		}
		got, err := FromResolved(form, argv[3:], []string{"A=1"}, 42)
		if err != nil {
			t.Fatalf("FromResolved(%q): %v", form, err)
		}
		want := p.Target
		want.Parent = 42
		if !reflect.DeepEqual(got.Target, want) || got.CloseFDs != p.CloseFDs || !reflect.DeepEqual(got.KeepFDs, p.KeepFDs) ||
			!reflect.DeepEqual(got.Command, p.Command) || got.Environ[0] != "A=1" || !got.Resolved || got.Supervised() ||
			got.AllowUnsafeCaps != p.AllowUnsafeCaps || len(got.Notes) != 0 {
			t.Errorf("round trip of %+v gave %+v", p, got)
		}
	}
}

func FuzzFromResolved(f *testing.F) {
	for _, s := range []string{"0:0::0::0:", "1000:1000:50,100:400:bnc:15:3,4", "1000:1000::1:u:0:", "1000:1000::80:b:0:", "1:2:3:x:y:z:", "::::::", "0:0:,:0::0:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, form string) {
		p, err := FromResolved(form, []string{"cmd"}, nil, 1)
		if err != nil {
			return
		}
		// Whatever is accepted writes back to a form that reads the same.
		again, err := FromResolved(strings.TrimPrefix(p.Child("g")[1], "--"+ResolvedOption+"="), []string{"cmd"}, nil, 1)
		if err != nil || !reflect.DeepEqual(again.Target, p.Target) || again.CloseFDs != p.CloseFDs || !reflect.DeepEqual(again.KeepFDs, p.KeepFDs) {
			t.Errorf("%q: %+v, then %+v, %v", form, p, again, err)
		}
	})
}

// TestChildRefusesUnsafeCaps: the numeric form cannot carry a capability
// that --keep-caps refuses, unless it also carries the override.
func TestChildRefusesUnsafeCaps(t *testing.T) {
	if _, err := FromResolved("1000:1000::8::0:", []string{"id"}, nil, 1); err == nil || !strings.Contains(err.Error(), "CAP_FOWNER") {
		t.Errorf("CAP_FOWNER without the override: %v", err)
	}
	if _, err := FromResolved("0:0::400::0:", []string{"id"}, nil, 1); err == nil {
		t.Error("capabilities for root: no error")
	}
}
