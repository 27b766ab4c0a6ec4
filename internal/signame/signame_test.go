package signame

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAgreesWithUnix: the same names as golang.org/x/sys/unix, both ways.
func TestAgreesWithUnix(t *testing.T) {
	for n := syscall.Signal(1); n <= 31; n++ {
		if Name(n) != unix.SignalName(n) {
			t.Errorf("Name(%d) = %q, want %q", n, Name(n), unix.SignalName(n))
		}
		if Parse(unix.SignalName(n)) != n || Parse(unix.SignalName(n)[3:]) != n {
			t.Errorf("Parse(%q) = %d, want %d", unix.SignalName(n), Parse(unix.SignalName(n)), n)
		}
	}
	for in, want := range map[string]syscall.Signal{"term": 15, "Kill": 9, "9": 9, "64": 64, "0": 0, "65": 0, "-1": 0, "BOGUS": 0, "": 0, "SIG": 0, "SIGSIGTERM": 0} {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %d, want %d", in, got, want)
		}
	}
	if Parse("USR1") != unix.SIGUSR1 || Parse("BUS") != unix.SIGBUS {
		t.Errorf("Parse(USR1) = %d, Parse(BUS) = %d: not this architecture's numbers", Parse("USR1"), Parse("BUS"))
	}
	if Name(0) != "" || Name(40) != "40" {
		t.Errorf("Name(0) = %q, Name(40) = %q", Name(0), Name(40))
	}
}
