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
