package ownership

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// progressAfter is how long a walk runs before it shows progress: a
// restart or a small volume says nothing.
const progressAfter = 2 * time.Second

// progressEvery is how often the line is rewritten.
const progressEvery = 250 * time.Millisecond

// startProgress starts the progress line on o.Progress, if any, and
// returns the function that stops it and clears the line.
func (w *walker) startProgress() (stop func()) {
	if w.o.Progress < 0 {
		return func() {}
	}
	after := w.o.progressAfter
	if after <= 0 {
		after = progressAfter
	}
	// Polling with time.Sleep, not a Timer or Ticker: a channel of
	// time.Time links time's formatting and time zone code into the
	// binary (about 60 KB of its size budget).
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		const slice = 50 * time.Millisecond
		for waited := time.Duration(0); waited < after; waited += slice {
			if done.Load() {
				return
			}
			time.Sleep(slice)
		}
		for shown := false; ; {
			if done.Load() {
				if shown {
					// Erase the line: whatever comes next starts clean.
					unix.Write(w.o.Progress, []byte("\r\x1b[K"))
				}
				return
			}
			w.progressLine()
			shown = true
			for waited := time.Duration(0); waited < progressEvery && !done.Load(); waited += slice {
				time.Sleep(slice)
			}
		}
	}()
	return func() {
		done.Store(true)
		<-finished
	}
}

func (w *walker) progressLine() {
	line := "\rchown " + w.root + ": " + u64(w.seen.Load()) + " seen, " + u64(w.changed.Load()) + " changed"
	unix.Write(w.o.Progress, []byte(line))
}
