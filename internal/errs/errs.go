// Package errs adds context to errors the way fmt.Errorf("%s: %w") does,
// without fmt, which would cost the binary about 170 KB of its size budget.
// Every layer wraps with it, so errors.Is finds the kernel's errno (or an
// account package sentinel) through all of them.
package errs

import (
	"strconv"
	"unicode/utf8"
)

// Wrap returns an error that reads "msg: err" and unwraps to err.
func Wrap(msg string, err error) error { return &wrapped{msg, err} }

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// Explain returns an error that reads msg in place of err's own text (a
// reason a person can act on instead of "operation not permitted") and
// still unwraps to err.
func Explain(msg string, err error) error { return &explained{msg, err} }

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// Quote puts a name or path in double quotes for a message, Go-escaped
// (strconv.Quote): a newline, an escape sequence or a byte that is not
// UTF-8 in a file or user name shows as \n, \x1b or \xff, and can neither
// forge a log line nor reach a terminal raw. Every name gosu prints goes
// through it.
func Quote(s string) string { return strconv.Quote(s) }

// Printable is s as it is when it holds only printable characters, and
// Quote(s) when it does not. It serves the messages whose wording follows
// upstream gosu's, which people and scripts grep for
// ("unable to find user NAME"): a plain name reads as upstream's, and a
// name with a newline or an escape sequence still cannot forge a line or
// reach the terminal raw.
func Printable(s string) string {
	if !utf8.ValidString(s) {
		return Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return Quote(s)
		}
	}
	return s
}
