package ownership

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"gosu/internal/errs"
)

// progressAfter is how long a walk runs before it shows progress: a
// restart or a small volume says nothing.
const progressAfter = 2 * time.Second

// progressEvery is how often the line is rewritten.
const progressEvery = 250 * time.Millisecond

// progressBatch is how many entries of one directory a worker handles
// between looks at the clock, for directories of millions of entries.
const progressBatch = 4096

// The workers write the progress line themselves, between directories,
// rather than a goroutine with a ticker: their calls do not yield to the Go
// scheduler (sys.go), so such a goroutine would wait tens of milliseconds
// for a P, and a walk needs no goroutine that could outlive it.

// startProgress arms the progress line on o.Progress, if any.
func (w *walker) startProgress() {
	if w.o.Progress < 0 {
		return
	}
	after := w.o.progressAfter
	if after <= 0 {
		after = progressAfter
	}
	w.nextLine.Store(time.Now().Add(after).UnixNano())
}

// progress writes the line if it is due; one worker wins each turn.
func (w *walker) progress() {
	at := w.nextLine.Load()
	if at == 0 {
		return
	}
	now := time.Now().UnixNano()
	if now < at || !w.nextLine.CompareAndSwap(at, now+int64(progressEvery)) {
		return
	}
	w.shown.Store(true)
	line := "\rchown " + errs.Quote(w.root) + ": " + strconv.FormatUint(w.seen.Load(), 10) + " seen, " + strconv.FormatUint(w.changed.Load(), 10) + " changed"
	unix.Write(w.o.Progress, []byte(line))
}

// endProgress erases the line, if one was written: whatever comes next
// starts on a clean line.
func (w *walker) endProgress() {
	if w.shown.Load() {
		unix.Write(w.o.Progress, []byte("\r\x1b[K"))
	}
}
