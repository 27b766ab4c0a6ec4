package launch

import (
	"strings"
	"syscall"

	"gosu/internal/errs"
)

// missingInterpreter explains an execve of path that failed with ENOENT
// although path exists: the kernel says ENOENT too when the program's
// interpreter is missing, the ELF one (PT_INTERP: a glibc program in an
// Alpine image looks for /lib64/ld-linux-x86-64.so.2) or a script's "#!"
// line. It returns "" when that is not the case, so that "not found"
// stays for what is really not there. It reads at most the first 4 KiB of
// the file, and only to word a message after a failed exec.
func missingInterpreter(path string, err error) string {
	if err != syscall.ENOENT {
		return ""
	}
	fd, e := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if e != nil {
		return ""
	}
	defer syscall.Close(fd)
	var buf [4096]byte
	n, _ := syscall.Pread(fd, buf[:], 0)
	head := buf[:max(n, 0)]
	what, interp := "", ""
	if rest, ok := strings.CutPrefix(string(head), "#!"); ok {
		// The kernel reads the line up to 255 bytes: the interpreter is
		// its first word.
		line, _, _ := strings.Cut(rest, "\n")
		what, interp = "the interpreter of its #! line", firstWord(line)
	} else {
		what, interp = "its ELF interpreter", elfInterp(head, func(off, n uint64) ([]byte, bool) { return readAt(fd, off, n) })
	}
	if interp == "" {
		return ""
	}
	var st syscall.Stat_t
	if syscall.Stat(interp, &st) == nil {
		return "" // there after all: the ENOENT came from elsewhere
	}
	return what + " " + errs.Quote(interp) + " is missing (a program built for another C library or distribution?)"
}

// firstWord is the first word of a #! line: blanks are spaces and tabs.
func firstWord(s string) string {
	start := 0
	for start < len(s) && (s[start] == ' ' || s[start] == '\t') {
		start++
	}
	end := start
	for end < len(s) && s[end] != ' ' && s[end] != '\t' {
		end++
	}
	return s[start:end]
}

// elfInterp returns the PT_INTERP path of an ELF file, or "": head is its
// first bytes, and read reads exactly n bytes at off.
func elfInterp(head []byte, read func(off, n uint64) ([]byte, bool)) string {
	if len(head) < 52 || string(head[:4]) != "\x7fELF" {
		return ""
	}
	bo := byteOrder{big: head[5] == 2}
	var phoff, phentsize, phnum uint64
	is64 := head[4] == 2
	if is64 {
		if len(head) < 64 {
			return ""
		}
		phoff, phentsize, phnum = bo.Uint64(head[32:]), uint64(bo.Uint16(head[54:])), uint64(bo.Uint16(head[56:]))
	} else {
		phoff, phentsize, phnum = uint64(bo.Uint32(head[28:])), uint64(bo.Uint16(head[42:])), uint64(bo.Uint16(head[44:]))
	}
	const ptInterp = 3
	for i := uint64(0); i < phnum && i < 64; i++ {
		ph, ok := read(phoff+i*phentsize, min(phentsize, 56))
		if !ok || len(ph) < 32 || bo.Uint32(ph) != ptInterp {
			continue
		}
		var off, size uint64
		if is64 {
			if len(ph) < 48 {
				return ""
			}
			off, size = bo.Uint64(ph[8:]), bo.Uint64(ph[32:])
		} else {
			off, size = uint64(bo.Uint32(ph[4:])), uint64(bo.Uint32(ph[16:]))
		}
		if size == 0 || size > 4096 {
			return ""
		}
		b, ok := read(off, size)
		if !ok {
			return ""
		}
		interp, _, _ := strings.Cut(string(b), "\x00")
		return interp
	}
	return ""
}

// readAt reads exactly n bytes of fd at off.
func readAt(fd int, off, n uint64) ([]byte, bool) {
	if off > 1<<40 {
		return nil, false
	}
	b := make([]byte, n)
	m, err := syscall.Pread(fd, b, int64(off))
	return b[:max(m, 0)], err == nil && uint64(m) == n
}

// byteOrder reads the ELF file's integers (encoding/binary's interface
// would add its method tables to the binary for these few reads).
type byteOrder struct{ big bool }

func (o byteOrder) Uint16(b []byte) uint16 { return uint16(o.Uint64(b[:2])) }
func (o byteOrder) Uint32(b []byte) uint32 { return uint32(o.Uint64(b[:4])) }

// Uint64 reads all of b (up to 8 bytes) as one number.
func (o byteOrder) Uint64(b []byte) uint64 {
	var n uint64
	for i := range min(len(b), 8) {
		if o.big {
			n = n<<8 | uint64(b[i])
		} else {
			n |= uint64(b[i]) << (8 * i)
		}
	}
	return n
}
