// Package errs adds context to errors the way fmt.Errorf("%s: %w") does,
// without fmt, which would cost the binary about 170 KB of its size budget.
// Every layer wraps with it, so errors.Is finds the kernel's errno (or an
// account package sentinel) through all of them.
package errs

import "unicode/utf8"

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

// Quote puts s in double quotes for a message, escaping what a terminal
// would not show as it is: quotes and backslashes, control characters and
// bytes that are not UTF-8. It stands in for strconv.Quote, which costs
// the binary about 4 KB of its size budget.
func Quote(s string) string {
	const hex = "0123456789abcdef"
	b := []byte{'"'}
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError && n == 1:
			for i := range n {
				b = append(b, '\\', 'x', hex[s[i]>>4], hex[s[i]&15])
			}
		default:
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return string(append(b, '"'))
}
