package dirent

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// record builds one struct linux_dirent64 as the kernel of this machine
// would write it: numbers in native byte order, the name NUL-terminated
// and padded to a multiple of 8.
func record(ino uint64, typ uint8, name string) []byte {
	reclen := (nameAt + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint64(b[0:], ino)
	binary.NativeEndian.PutUint64(b[8:], uint64(reclen))
	binary.NativeEndian.PutUint16(b[reclenAt:], uint16(reclen))
	b[typeAt] = typ
	copy(b[nameAt:], name)
	return b
}

type entry struct {
	name string
	typ  uint8
}

func all(buf []byte) []entry {
	var got []entry
	r := Records(buf)
	for {
		name, typ, ok := r.Next()
		if !ok {
			return got
		}
		if len(name) == 0 || name[len(name)-1] != 0 || bytes.IndexByte(name, 0) != len(name)-1 {
			panic("name not NUL-terminated once: " + strconv.Quote(string(name)))
		}
		got = append(got, entry{string(name[:len(name)-1]), typ})
	}
}

// Hand-built records, so that the parser is checked in the byte order and
// word size of whatever GOARCH the test runs on (s390x under qemu-s390x-static
// is big-endian; 386 and arm are 32-bit).
func TestRecords(t *testing.T) {
	long := string(bytes.Repeat([]byte("n"), 255))
	buf := slices.Concat(
		record(1, unix.DT_DIR, "."),
		record(2, unix.DT_DIR, ".."),
		record(3, unix.DT_REG, "a"),
		record(4, unix.DT_DIR, "sub"),
		record(5, unix.DT_LNK, "123456789012"), // 19 + 12 + NUL = 32: no padding
		record(6, unix.DT_UNKNOWN, long),
		record(7, unix.DT_REG, "..."),
		record(8, unix.DT_REG, ".x"),
		record(9, unix.DT_FIFO, "x\ny\x1b"),
	)
	want := []entry{{"a", unix.DT_REG}, {"sub", unix.DT_DIR}, {"123456789012", unix.DT_LNK}, {long, unix.DT_UNKNOWN},
		{"...", unix.DT_REG}, {".x", unix.DT_REG}, {"x\ny\x1b", unix.DT_FIFO}}
	if got := all(buf); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	// Malformed: a record without a NUL in its name is passed over; a
	// length below the header, or past the end, ends the records.
	noNul := record(10, unix.DT_REG, "abcd")
	for i := nameAt; i < len(noNul); i++ {
		noNul[i] = 'z'
	}
	empty := record(11, unix.DT_REG, "")
	if got := all(slices.Concat(noNul, empty, record(12, unix.DT_REG, "b"))); !slices.Equal(got, []entry{{"b", unix.DT_REG}}) {
		t.Errorf("after a record without NUL and an empty name: %q", got)
	}
	short := record(13, unix.DT_REG, "c")
	binary.NativeEndian.PutUint16(short[reclenAt:], nameAt)
	if got := all(slices.Concat(record(14, unix.DT_REG, "d"), short, record(15, unix.DT_REG, "e"))); !slices.Equal(got, []entry{{"d", unix.DT_REG}}) {
		t.Errorf("a record shorter than its header did not end the records: %q", got)
	}
	past := record(16, unix.DT_REG, "f")
	binary.NativeEndian.PutUint16(past[reclenAt:], uint16(len(past)+8))
	if got := all(slices.Concat(record(17, unix.DT_REG, "g"), past)); !slices.Equal(got, []entry{{"g", unix.DT_REG}}) {
		t.Errorf("a record longer than the buffer did not end the records: %q", got)
	}
	for n := range nameAt + 1 {
		if got := all(record(18, unix.DT_REG, "h")[:n]); len(got) != 0 {
			t.Errorf("%d bytes of a record gave %q", n, got)
		}
	}
	if got := all(nil); len(got) != 0 {
		t.Errorf("no records gave %q", got)
	}
}

// The parser on what this kernel writes.
func TestGetdents(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 300 {
		name := "f" + strconv.Itoa(i)
		if err := os.WriteFile(dir+"/"+name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if err := os.Mkdir(dir+"/d", 0o755); err != nil {
		t.Fatal(err)
	}
	want = append(want, "d")
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1024) // several calls
	var got []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 0 {
			break
		}
		r := Records(buf[:n])
		for name, typ, ok := r.Next(); ok; name, typ, ok = r.Next() {
			s := string(name[:len(name)-1])
			got = append(got, s)
			if wantTyp := uint8(unix.DT_REG); s == "d" {
				wantTyp = unix.DT_DIR
				if typ != wantTyp && typ != unix.DT_UNKNOWN {
					t.Errorf("%s: d_type %d", s, typ)
				}
			} else if typ != wantTyp && typ != unix.DT_UNKNOWN {
				t.Errorf("%s: d_type %d", s, typ)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("read %d names, want %d: %q", len(got), len(want), got)
	}
}

// Whatever the bytes, Next neither panics nor hands out a name that is not
// NUL-terminated inside the buffer.
func FuzzRecords(f *testing.F) {
	f.Add(slices.Concat(record(1, unix.DT_DIR, "."), record(3, unix.DT_REG, "a")))
	f.Add(record(3, unix.DT_REG, "abcdefgh"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Copy into an 8-aligned buffer, as getdents fills.
		buf := make([]byte, len(b))
		copy(buf, b)
		all(buf)
	})
}
