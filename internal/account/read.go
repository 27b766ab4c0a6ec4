package account

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strconv"
	"syscall"
)

// MaxLine is the longest line, without its line ending, that is read. The
// files are bind-mountable by anyone who builds an image or runs a
// container: a line that never ends (/dev/zero, a sparse file) must cost a
// bounded amount of memory, not grow until the OOM killer comes. glibc has no
// limit; upstream gosu's bufio.Scanner stops at 64 KiB, which real group
// lines with thousands of members can exceed.
const MaxLine = 1 << 20

var (
	// ErrLineTooLong is a line longer than MaxLine (a literal: building it
	// at init would cost code in every binary).
	ErrLineTooLong = errors.New("line longer than 1048576 bytes")
	// ErrNotRegular is an account file that is a FIFO, a device, a
	// directory or a socket.
	ErrNotRegular = errors.New("not a regular file")
)

// LineError is a line that could not be read as a line, which stops the
// lookup: nothing after it can be trusted to have been seen.
type LineError struct {
	Path string
	Line int // from 1
	Err  error
}

func (e *LineError) Error() string {
	return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Err.Error()
}

func (e *LineError) Unwrap() error { return e.Err }

// NotRegularError is an account file that exists but is not a regular file.
// It is an error, never an empty file: a FIFO without a writer would block
// for ever and a device may never end.
type NotRegularError struct {
	Path string
	Mode uint32 // the file type bits of st_mode (syscall.S_IFMT)
}

func (e *NotRegularError) Error() string {
	return e.Path + " is not a regular file (" + fileKind(e.Mode) + ")"
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

func fileKind(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return "a FIFO"
	case syscall.S_IFCHR:
		return "a character device"
	case syscall.S_IFBLK:
		return "a block device"
	case syscall.S_IFDIR:
		return "a directory"
	case syscall.S_IFSOCK:
		return "a socket"
	}
	return "an unknown type" // stat follows symbolic links: none is left
}

// openRegular opens path for reading if it is a regular file. It returns
// ENOENT, EACCES and EPERM bare, for find to read them as an empty file.
//
// The type is checked before opening, because opening a device runs its
// driver (a watchdog starts counting, a tape rewinds), and again on the open
// descriptor, because the path may have changed in between. O_NONBLOCK makes
// opening a FIFO return at once rather than wait for a writer, and makes the
// rare regular file that can block on read (/proc/kmsg) fail instead;
// O_NOCTTY keeps a terminal from becoming gosu's controlling one.
//
// It uses plain system calls: os.Open would first set up Go's network
// poller (an epoll instance, an eventfd and a thread), which is most of what
// a lookup costs at start-up.
func openRegular(path string) (int, error) {
	var st syscall.Stat_t
	fd, op := -1, "open"
	err := stat(path, &st)
	if err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		if fd, err = open(path); err == nil {
			op = "fstat"
			err = syscall.Fstat(fd, &st)
		}
	}
	switch {
	case err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		err = &NotRegularError{Path: path, Mode: st.Mode & syscall.S_IFMT}
	case err == nil, op == "open" && (err == syscall.ENOENT || err == syscall.EACCES || err == syscall.EPERM):
		// These read as an empty file: returned bare.
	default:
		err = &fs.PathError{Op: op, Path: path, Err: err}
	}
	if err != nil && fd >= 0 {
		syscall.Close(fd)
		fd = -1
	}
	return fd, err
}

func stat(path string, st *syscall.Stat_t) error {
	for {
		if err := syscall.Stat(path, st); err != syscall.EINTR {
			return err
		}
	}
}

func open(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// lines reads a file one line at a time. A line that does not fit the
// buffer is gathered in long, up to max, so only the current line is ever
// held and never much more than max bytes of it.
type lines struct {
	r          io.Reader
	buf        []byte // what was read; buf[start:end] is not returned yet
	start, end int
	err        error // what the last read returned, once buf is used up
	long       []byte
	max        int   // MaxLine; smaller in tests, to reach the limit cheaply
	n          int   // number of the current line, from 1
	off        int64 // offset of the current line's first byte
	pos        int64 // offset of buf[start]
}

func newLines(r io.Reader) *lines { return newLinesSize(r, 64<<10, MaxLine) }

func newLinesSize(r io.Reader, size, max int) *lines {
	return &lines{r: r, buf: make([]byte, size), max: max}
}

// slice returns the buffered bytes up to and including the next newline,
// reading more as needed (what bufio.Reader.ReadSlice does, without
// bufio's code in the binary). full says the buffer filled up with no
// newline: b is then only the start of a line.
func (l *lines) slice() (b []byte, full bool, err error) {
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			b = l.buf[l.start : l.start+i+1]
			l.start += i + 1
			l.pos += int64(len(b))
			return b, false, nil
		}
		if l.err != nil || l.end-l.start == len(l.buf) {
			b = l.buf[l.start:l.end]
			l.start = l.end
			l.pos += int64(len(b))
			return b, l.err == nil, l.err
		}
		l.end = copy(l.buf, l.buf[l.start:l.end])
		l.start = 0
		var n int
		n, l.err = l.r.Read(l.buf[l.end:])
		l.end += n
	}
}

// next returns the next line without its line ending ("\n", or "\r\n" as
// DOS-edited files have), valid until the next call; io.EOF after the last
// line; or ErrLineTooLong, as soon as the line is known to be too long, after
// which it must not be called again.
func (l *lines) next() ([]byte, error) {
	l.n++
	l.off = l.pos
	b, full, err := l.slice()
	if full {
		if l.long == nil {
			// Allocated once, at its largest, so that append never
			// leaves copies behind: this is all the memory a line costs.
			l.long = make([]byte, 0, l.max+1+len(l.buf))
		}
		l.long = append(l.long[:0], b...)
		for full {
			// +1 leaves room for a "\r" that is not counted.
			if len(l.long) > l.max+1 {
				return nil, ErrLineTooLong
			}
			b, full, err = l.slice()
			l.long = append(l.long, b...)
		}
		b = l.long
	}
	if err != nil && !(err == io.EOF && len(b) > 0) {
		return nil, err
	}
	b = trimEnding(b)
	if len(b) > l.max {
		return nil, ErrLineTooLong
	}
	return b, nil
}

// trimEnding removes one "\n", then one "\r". Upstream trims all white space
// from every line, so CRLF files work there; a field's own spaces are kept
// here, but a file saved by a DOS editor must not lose its last member of
// every group, or put "/bin/sh\r" into SHELL, without a word.
func trimEnding(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// Scanner reads, one at a time, the lines of an account file that may hold
// an entry, by the rules every reader of these files here follows: a line
// ends at "\n", and one "\r" before it is part of the ending; comment and
// blank lines are skipped (skip); a line longer than MaxLine ends the
// reading with a LineError, since nothing after it can be trusted to have
// been seen. Only the current line is held.
type Scanner struct {
	l    lines
	path string
	line []byte
	err  error
	done bool
}

// NewScanner reads r, the content of the file path (for errors). A nil r
// reads as an empty file.
func NewScanner(r io.Reader, path string) *Scanner {
	s := &Scanner{path: path, done: r == nil}
	if r != nil {
		s.l = *newLines(r)
	}
	return s
}

// Scan moves to the next line that may hold an entry and reports whether
// there is one; after false, Err says whether reading failed.
func (s *Scanner) Scan() bool {
	for !s.done {
		line, err := s.l.next()
		switch {
		case err == io.EOF:
			s.done = true
		case err == ErrLineTooLong:
			s.done, s.err = true, &LineError{Path: s.path, Line: s.l.n, Err: err}
		case err != nil:
			s.done, s.err = true, &fs.PathError{Op: "read", Path: s.path, Err: err}
		case !skip(line):
			s.line = line
			return true
		}
	}
	return false
}

// Line is the current line without its ending, valid until the next Scan.
func (s *Scanner) Line() []byte { return s.line }

// N is the current line's number, from 1.
func (s *Scanner) N() int { return s.l.n }

// Offset is where the current line starts in the file.
func (s *Scanner) Offset() int64 { return s.l.off }

// Err is what stopped the reading before the end, if anything.
func (s *Scanner) Err() error { return s.err }
