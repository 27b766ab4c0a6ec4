package plan

import (
	"reflect"
	"strings"
	"syscall"
	"testing"

	"gosu/internal/drop"
	"gosu/internal/landlock"
)

// fill sets every field of the struct at v to a value that is not zero,
// so that a field the child form forgets cannot round-trip.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint32:
			f.SetUint(4294967294 - uint64(i))
		case reflect.Uint64:
			f.SetUint(1<<10 | 1<<40)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(15 + i))
		case reflect.Slice:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			for j := range 2 {
				s.Index(j).Set(reflect.ValueOf(j + 3).Convert(f.Type().Elem()))
			}
			f.Set(s)
		default:
			t.Fatalf("drop.Target.%s: fill knows no %s: teach it, and the child form", v.Type().Field(i).Name, f.Kind())
		}
	}
}

// TestChildRoundTrip: what a supervising parent hands its fresh gosu reads
// back as exactly the switch the parent resolved, every field of
// drop.Target included.
func TestChildRoundTrip(t *testing.T) {
	var full Plan
	fill(t, reflect.ValueOf(&full.Target).Elem())
	full.Target.ParentDeathSignal = syscall.SIGTERM
	full.Command, full.CloseFDs, full.KeepFDs, full.AllowUnsafeCaps = []string{"sh", "-c", "a:b;c=d", "--", "--resolved=x"}, true, []int{3, 9}, true
	full.Landlock = landlock.Rules{ABI: 7, Write: []int{5, 6}, Read: []int{7}}
	for _, p := range []Plan{
		{Command: []string{"id"}, Target: drop.Target{UID: 1000, GID: 1000}},
		{Command: []string{"id"}, Target: drop.Target{Groups: []uint32{0}}},
		full,
	} {
		argv := p.Child("/usr/local/bin/gosu")
		if argv[0] != "/usr/local/bin/gosu" || argv[2] != "--" || !reflect.DeepEqual(argv[3:], p.Command) {
			t.Fatalf("Child = %q", argv)
		}
		form, ok := strings.CutPrefix(argv[1], "--"+ResolvedOption+"=")
		if !ok {
			t.Fatalf("Child = %q: no --%s", argv, ResolvedOption)
		}
		got, err := parseChild(form, argv[3:], []string{"A=1"}, 42)
		if err != nil {
			t.Fatalf("parseChild(%q): %v", form, err)
		}
		want := p.Target
		want.Parent = 42 // the child's own parent, not the parent's
		if !reflect.DeepEqual(got.Target, want) || got.CloseFDs != p.CloseFDs || !reflect.DeepEqual(got.KeepFDs, p.KeepFDs) ||
			!reflect.DeepEqual(got.Command, p.Command) || got.Environ[0] != "A=1" || got.Supervised() ||
			got.AllowUnsafeCaps != p.AllowUnsafeCaps || len(got.Notes) != 0 || !reflect.DeepEqual(got.Landlock, p.Landlock) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", form, got.Target, want)
		}
	}
}

// TestChildMalformed: the form is all or nothing.
func TestChildMalformed(t *testing.T) {
	good := strings.TrimPrefix((&Plan{Command: []string{"id"}}).Child("g")[1], "--"+ResolvedOption+"=")
	if _, err := parseChild(good, []string{"id"}, nil, 1); err != nil {
		t.Fatalf("%q: %v", good, err)
	}
	for _, form := range []string{"", good + ";", good + ";x=1", strings.Replace(good, "uid=0", "uid=", 1),
		strings.Replace(good, "uid=0", "uid=4294967295", 1), strings.Replace(good, "uid=0", "uid=-1", 1),
		strings.Replace(good, "uid=0;gid=0", "gid=0;uid=0", 1), strings.Replace(good, "nnp=false", "nnp=1", 1),
		strings.Replace(good, "pdeathsig=0", "pdeathsig=65", 1), strings.Replace(good, "groups=", "groups=1,,2", 1),
		strings.Replace(good, "keepfds=", "keepfds=3", 1), strings.Replace(good, "landlock=0", "landlock=", 1),
		strings.Replace(good, "lwrite=", "lwrite=-1", 1), strings.Replace(good, "lread=", "lread=x", 1)} {
		if _, err := parseChild(form, []string{"id"}, nil, 1); err == nil {
			t.Errorf("%q: no error", form)
		}
	}
	if _, err := parseChild(good, nil, nil, 1); err == nil {
		t.Error("no command: no error")
	}
}

func FuzzFromResolved(f *testing.F) {
	f.Add(strings.TrimPrefix((&Plan{Command: []string{"id"}}).Child("g")[1], "--"+ResolvedOption+"="))
	f.Add("uid=1000;gid=1000;groups=50,100;caps=1024;bounding=true;nnp=true;pdeathsig=15;closefds=true;keepfds=3,4;unsafecaps=false;landlock=7;lwrite=5;lread=6,7")
	f.Add("uid=1;gid=2;groups=3;caps=x;bounding=y;nnp=z;pdeathsig=;closefds=;keepfds=;unsafecaps=")
	f.Fuzz(func(t *testing.T, form string) {
		p, err := parseChild(form, []string{"cmd"}, nil, 1)
		if err != nil {
			return
		}
		// Whatever is accepted writes back to a form that reads the same.
		again, err := parseChild(strings.TrimPrefix(p.Child("g")[1], "--"+ResolvedOption+"="), []string{"cmd"}, nil, 1)
		if err != nil || !reflect.DeepEqual(again.Target, p.Target) || again.CloseFDs != p.CloseFDs || !reflect.DeepEqual(again.KeepFDs, p.KeepFDs) ||
			again.AllowUnsafeCaps != p.AllowUnsafeCaps || !reflect.DeepEqual(again.Landlock, p.Landlock) {
			t.Errorf("%q: %+v, then %+v, %v", form, p, again, err)
		}
	})
}

// TestChildRefusesUnsafeCaps: the numeric form cannot carry a capability
// that --keep-caps refuses, unless it also carries the override.
func TestChildRefusesUnsafeCaps(t *testing.T) {
	form := func(uid string, caps string) string {
		return "uid=" + uid + ";gid=1000;groups=;caps=" + caps + ";bounding=false;nnp=false;pdeathsig=0;closefds=false;keepfds=;unsafecaps=false;landlock=0;lwrite=;lread="
	}
	if _, err := FromResolved(form("1000", "8"), []string{"id"}, nil, 1); err == nil || !strings.Contains(err.Error(), "CAP_FOWNER") {
		t.Errorf("CAP_FOWNER without the override: %v", err)
	}
	if _, err := FromResolved(form("0", "1024"), []string{"id"}, nil, 1); err == nil {
		t.Error("capabilities for root: no error")
	}
}

// TestChildRefusesForeignLandlock: the numeric form hands on Landlock rules
// only as the O_PATH descriptors the parent opened, never stdio or another
// descriptor, and only for an ABI gosu knows.
func TestChildRefusesForeignLandlock(t *testing.T) {
	form := func(landlock string) string {
		return "uid=1000;gid=1000;groups=;caps=0;bounding=false;nnp=true;pdeathsig=0;closefds=false;keepfds=;unsafecaps=false;" + landlock
	}
	for _, bad := range []string{"landlock=7;lwrite=;lread=1", "landlock=8;lwrite=;lread=", "landlock=0;lwrite=;lread=999", "landlock=7;lwrite=;lread="} {
		if _, err := FromResolved(form(bad), []string{"id"}, nil, 1); err == nil || !strings.Contains(err.Error(), "landlock rules gosu did not make") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := FromResolved(form("landlock=0;lwrite=;lread="), []string{"id"}, nil, 1); err != nil {
		t.Errorf("no rules: %v", err)
	}
}
