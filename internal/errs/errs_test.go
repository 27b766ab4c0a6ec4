package errs

import (
	"errors"
	"syscall"
	"testing"
)

func TestWrap(t *testing.T) {
	err := Wrap("outer", Wrap("inner", syscall.EPERM))
	if err.Error() != "outer: inner: operation not permitted" || !errors.Is(err, syscall.EPERM) {
		t.Errorf("Wrap = %q; errors.Is(EPERM) = %v", err, errors.Is(err, syscall.EPERM))
	}
}

func TestExplain(t *testing.T) {
	err := Wrap("setuid", Explain("not running as root", syscall.EPERM))
	if err.Error() != "setuid: not running as root" || !errors.Is(err, syscall.EPERM) {
		t.Errorf("Explain = %q; errors.Is(EPERM) = %v", err, errors.Is(err, syscall.EPERM))
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `"plain"`, `a"b\c`: `"a\"b\\c"`, "\x00\n\x7f": `"\x00\n\x7f"`, "é": `"é"`, "\xff": `"\xff"`, "\u0085": `"\u0085"`, "": `""`,
		"x\nerror: fake line\x1b]0;TITLE\a": `"x\nerror: fake line\x1b]0;TITLE\a"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"app": "app", "jöhn": "jöhn", "a b": "a b", "": "", "x\nerror: fake": `"x\nerror: fake"`, "\x1b]0;T\a": `"\x1b]0;T\a"`, "\xff": `"\xff"`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
}
