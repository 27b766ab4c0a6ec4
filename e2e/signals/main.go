// Command signals is the receiving end of gosu's signal tests. It says what
// arrived, so that a test can count what a supervising parent forwarded.
//
//	signals count UNTIL SIG...   the signals, blocked since it started, are
//	                             read from a signalfd and counted one by
//	                             one (real-time ones queue) until UNTIL
//	                             arrives; prints "N=COUNT" for each
//	signals catch SIG...         catches them with os/signal (also those
//	                             it started with ignored) and prints
//	                             "got N" for each, until every one came
//
// Both print "ready" once they receive, and give up after 30 seconds.
// Signals are numbers.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 {
		die("usage: signals count UNTIL SIG... | signals catch SIG...")
	}
	var sigs []int
	for _, a := range os.Args[2:] {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > 64 {
			die("not a signal number: " + a)
		}
		sigs = append(sigs, n)
	}
	time.AfterFunc(30*time.Second, func() { die("gave up after 30 s") })
	switch os.Args[1] {
	case "count":
		count(sigs[0], sigs)
	case "catch":
		catch(sigs)
	default:
		die("unknown mode " + os.Args[1])
	}
}

func count(until int, sigs []int) {
	runtime.LockOSThread()
	var set, mask unix.Sigset_t
	for _, n := range sigs {
		set.Val[(n-1)/64] |= 1 << ((n - 1) % 64)
	}
	// Go's runtime keeps blocked on every thread the signals a program
	// started with blocked (those it may block): here, all of these.
	unix.PthreadSigmask(unix.SIG_BLOCK, nil, &mask)
	for _, n := range sigs {
		if mask.Val[(n-1)/64]&(1<<((n-1)%64)) == 0 {
			die("signal " + strconv.Itoa(n) + " was not blocked when this started")
		}
	}
	fd, err := unix.Signalfd(-1, &set, unix.SFD_CLOEXEC)
	if err != nil {
		die("signalfd: " + err.Error())
	}
	os.Stdout.WriteString("ready\n")
	got := map[int]int{}
	var info unix.SignalfdSiginfo
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&info)), unsafe.Sizeof(info))
	for got[until] == 0 {
		if n, err := unix.Read(fd, buf); n != len(buf) {
			if err == unix.EINTR {
				continue
			}
			die("reading the signalfd: " + err.Error())
		}
		got[int(info.Signo)]++
	}
	out := ""
	for _, n := range sigs {
		out += strconv.Itoa(n) + "=" + strconv.Itoa(got[n]) + "\n"
	}
	os.Stdout.WriteString(out)
}

func catch(sigs []int) {
	c := make(chan os.Signal, 64)
	want := map[int]bool{}
	for _, n := range sigs {
		signal.Notify(c, syscall.Signal(n))
		want[n] = true
	}
	os.Stdout.WriteString("ready\n")
	for len(want) > 0 {
		n := int((<-c).(syscall.Signal))
		os.Stdout.WriteString("got " + strconv.Itoa(n) + "\n")
		delete(want, n)
	}
}

func die(msg string) {
	os.Stderr.WriteString("signals: " + msg + "\n")
	os.Exit(111)
}
