package tty

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenAndModes: a new pseudo-terminal belongs to the given owner with
// mode 0620; raw mode is cfmakeraw's and is undone by Restore; a terminal
// that is not the caller's controlling terminal may be changed at once,
// with no job control in the way. Runs as any user (the owner is the
// caller).
func TestOpenAndModes(t *testing.T) {
	p, err := Open(uint32(os.Getuid()))
	if err != nil {
		t.Skip("no pseudo-terminals here: " + err.Error())
	}
	defer p.Close()
	var st unix.Stat_t
	if err := unix.Fstat(p.Slave, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != uint32(os.Getuid()) || st.Mode&0o7777 != 0o620 {
		t.Errorf("slave owned by %d with mode %o, want %d and 620", st.Uid, st.Mode&0o7777, os.Getuid())
	}
	if !IsTerminal(p.Slave) {
		t.Error("the slave is not a terminal")
	}
	if !MayChange(p.Slave) || Foreground(p.Slave) {
		t.Errorf("MayChange %v, Foreground %v for a terminal that is not the controlling one; want true, false", MayChange(p.Slave), Foreground(p.Slave))
	}
	if err := AwaitForeground(p.Slave); err != nil {
		t.Errorf("AwaitForeground: %v", err)
	}
	old, err := MakeRaw(p.Slave)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(p.Slave, unix.TCGETS)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 || raw.Cc[unix.VMIN] != 1 {
		t.Errorf("not raw: lflag %#x oflag %#x vmin %d", raw.Lflag, raw.Oflag, raw.Cc[unix.VMIN])
	}
	if err := Restore(p.Slave, old); err != nil {
		t.Fatal(err)
	}
	if back, _ := unix.IoctlGetTermios(p.Slave, unix.TCGETS); *back != *old {
		t.Errorf("Restore: %+v, want %+v", back, old)
	}
}

// TestInheritAndResize: the new terminal gets another terminal's settings
// and window size.
func TestInheritAndResize(t *testing.T) {
	from, err := Open(uint32(os.Getuid()))
	if err != nil {
		t.Skip("no pseudo-terminals here: " + err.Error())
	}
	defer from.Close()
	ws := &unix.Winsize{Row: 41, Col: 123}
	if err := unix.IoctlSetWinsize(from.Slave, unix.TIOCSWINSZ, ws); err != nil {
		t.Fatal(err)
	}
	p, err := Open(uint32(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Inherit(from.Slave); err != nil {
		t.Fatal(err)
	}
	if got, _ := unix.IoctlGetWinsize(p.Slave, unix.TIOCGWINSZ); got.Row != 41 || got.Col != 123 {
		t.Errorf("window size %dx%d, want 41x123", got.Row, got.Col)
	}
}
