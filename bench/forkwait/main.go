// Command forkwait starts its arguments as a child and exits with the
// child's status: the least a supervising parent written in Go can cost,
// the floor under which gosu --init cannot go (bench/bench.sh).
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: forkwait COMMAND [ARG...]\n")
		os.Exit(2)
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Stderr.WriteString("forkwait: " + err.Error() + "\n")
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	os.Exit(ws.ExitStatus())
}
