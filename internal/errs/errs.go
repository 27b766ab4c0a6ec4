// Package errs adds context to errors the way fmt.Errorf("%s: %w") does,
// without fmt, which would cost the binary about 170 KB of its size budget.
// Every layer wraps with it, so errors.Is finds the kernel's errno (or an
// account package sentinel) through all of them.
package errs

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
