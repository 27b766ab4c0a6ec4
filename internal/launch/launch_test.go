package launch

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// These tests only take the paths where execve fails: a success would
// replace the test process.

func TestExecNotFound(t *testing.T) {
	e := Exec([]string{"/nonexistent/gosu-test/cmd"}, nil)
	if e.Code != NotFound || !errors.Is(e, syscall.ENOENT) || e.Error() != `exec: "/nonexistent/gosu-test/cmd": no such file or directory` {
		t.Errorf("Exec = %d %q", e.Code, e)
	}
	e = Exec([]string{"gosu-test-no-such-command"}, []string{"PATH=/nonexistent:" + t.TempDir()})
	if e.Code != NotFound || e.Error() != `exec: "gosu-test-no-such-command": executable file not found in $PATH` {
		t.Errorf("Exec in PATH = %d %q", e.Code, e)
	}
	e = Exec([]string{""}, nil)
	if e.Code != NotFound {
		t.Errorf("Exec of an empty name = %d %q", e.Code, e)
	}
}

func TestExecNotExecutable(t *testing.T) {
	dir := t.TempDir()
	plain := dir + "/plain"
	if err := os.WriteFile(plain, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := Exec([]string{plain}, nil)
	if e.Code != NotExecutable || !errors.Is(e, syscall.EACCES) {
		t.Errorf("Exec of a plain file = %d %q", e.Code, e)
	}
	// In PATH: found but not runnable beats not found.
	e = Exec([]string{"plain"}, []string{"PATH=/nonexistent:" + dir})
	if e.Code != NotExecutable || !strings.Contains(e.Error(), "permission denied") {
		t.Errorf("Exec of a plain file in PATH = %d %q", e.Code, e)
	}
	// A relative PATH entry is refused, and the path is quoted.
	if err := os.Chmod(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	e = Exec([]string{"plain"}, []string{"PATH=."})
	if e.Code != NotExecutable || !strings.HasPrefix(e.Error(), `exec: "plain": found as "./plain" through the relative PATH entry "."`) {
		t.Errorf("Exec through a relative PATH entry = %d %q", e.Code, e)
	}
}

func TestExecMissingScriptInterpreter(t *testing.T) {
	dir := t.TempDir()
	script := dir + "/script"
	if err := os.WriteFile(script, []byte("#! /nonexistent/gosu-test/sh -e\necho never\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{script}, {"script"}} {
		e := Exec(argv, []string{"PATH=/nonexistent:" + dir})
		if e.Code != NotExecutable || !strings.Contains(e.Error(), `the interpreter of its #! line "/nonexistent/gosu-test/sh" is missing`) {
			t.Errorf("Exec(%q) = %d %q", argv, e.Code, e)
		}
	}
}

// elfFile builds an ELF file with one PT_INTERP program header.
func elfFile(is64, big bool, interp string) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	class, data := byte(1), byte(1)
	if is64 {
		class = 2
	}
	if big {
		bo, data = binary.BigEndian, 2
	}
	b := make([]byte, 256)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = class, data, 1
	const phoff = 64
	if is64 {
		bo.PutUint64(b[32:], phoff)
		bo.PutUint16(b[54:], 56)
		bo.PutUint16(b[56:], 2)
		ph := b[phoff:]
		bo.PutUint32(ph, 1) // PT_LOAD first
		ph = b[phoff+56:]
		bo.PutUint32(ph, 3)
		bo.PutUint64(ph[8:], 200)
		bo.PutUint64(ph[32:], uint64(len(interp)+1))
	} else {
		bo.PutUint32(b[28:], phoff)
		bo.PutUint16(b[42:], 32)
		bo.PutUint16(b[44:], 2)
		ph := b[phoff+32:]
		bo.PutUint32(ph, 3)
		bo.PutUint32(ph[4:], 200)
		bo.PutUint32(ph[16:], uint32(len(interp)+1))
	}
	copy(b[200:], interp+"\x00")
	return b
}

func reader(b []byte) func(off, n uint64) ([]byte, bool) {
	return func(off, n uint64) ([]byte, bool) {
		if off > uint64(len(b)) || n > uint64(len(b))-off {
			return nil, false
		}
		return b[off : off+n], true
	}
}

func TestELFInterp(t *testing.T) {
	for _, is64 := range []bool{true, false} {
		for _, big := range []bool{false, true} {
			b := elfFile(is64, big, "/lib/ld-musl-x86_64.so.1")
			if got := elfInterp(b, reader(b)); got != "/lib/ld-musl-x86_64.so.1" {
				t.Errorf("64-bit %v, big-endian %v: %q", is64, big, got)
			}
		}
	}
	for _, b := range [][]byte{nil, []byte("#!/bin/sh\n"), []byte("\x7fELF\x02\x01"), elfFile(true, false, "")[:100]} {
		if got := elfInterp(b, reader(b)); got != "" {
			t.Errorf("%q: %q", b, got)
		}
	}
}

// FuzzELFInterp: any file is read without a panic and within bounds.
func FuzzELFInterp(f *testing.F) {
	f.Add(elfFile(true, false, "/lib64/ld-linux-x86-64.so.2"))
	f.Add(elfFile(false, true, "/lib/ld.so.1"))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		elfInterp(b, reader(b))
	})
}
