// Command probe prints what the kernel says about the process it runs as,
// one "key=value" per line, for gosu's end-to-end tests.
package main

import (
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// openFDs lists this process's descriptors with raw system calls, before
// anything (the Go runtime's poller included) opens one of its own.
func openFDs() []string {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return []string{"unknown"}
	}
	defer syscall.Close(dir)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	var fds []string
	for _, name := range names {
		if name != strconv.Itoa(dir) {
			fds = append(fds, name)
		}
	}
	sort.Strings(fds)
	return fds
}

func main() {
	fds := openFDs()
	out := []string{
		"pid=" + strconv.Itoa(os.Getpid()),
		"ppid=" + strconv.Itoa(os.Getppid()),
		"argc=" + strconv.Itoa(len(os.Args)),
	}
	for i, a := range os.Args {
		out = append(out, "arg"+strconv.Itoa(i)+"="+a)
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.SplitSeq(string(status), "\n") {
			k, v, ok := strings.Cut(line, ":")
			switch k {
			case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "SigBlk", "SigIgn":
				if ok {
					out = append(out, k+"="+strings.Join(strings.Fields(v), " "))
				}
			}
		}
	}
	for _, k := range []string{"HOME", "USER", "LOGNAME", "SHELL", "PATH"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, "env."+k+"="+v)
		}
	}
	out = append(out, "envc="+strconv.Itoa(len(os.Environ())))
	out = append(out, "fds="+strings.Join(fds, ","))
	// Session and controlling terminal: fields 6 and 7 of /proc/self/stat,
	// counted after the command name in parentheses.
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat[i+1:]))
			out = append(out, "sid="+f[3], "tty_nr="+f[4])
		}
	}
	if wd, err := os.Getwd(); err == nil {
		out = append(out, "cwd="+wd)
	}
	os.Stdout.WriteString(strings.Join(out, "\n") + "\n")
	if len(os.Args) > 2 && os.Args[1] == "exit" {
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	}
	// "probe bind ADDR": can this process listen on ADDR?
	if len(os.Args) > 2 && os.Args[1] == "bind" {
		l, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			os.Stdout.WriteString("bind=" + err.Error() + "\n")
			os.Exit(1)
		}
		l.Close()
		os.Stdout.WriteString("bind=ok\n")
	}
}
