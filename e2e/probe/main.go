// Command probe prints what the kernel says about the process it runs as,
// one "key=value" per line, for gosu's end-to-end tests.
package main

import (
	"os"
	"strconv"
	"strings"
)

func main() {
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
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		var names []string
		for _, fd := range fds {
			names = append(names, fd.Name())
		}
		out = append(out, "fds="+strings.Join(names, ","))
	}
	if wd, err := os.Getwd(); err == nil {
		out = append(out, "cwd="+wd)
	}
	os.Stdout.WriteString(strings.Join(out, "\n") + "\n")
	if len(os.Args) > 2 && os.Args[1] == "exit" {
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	}
}
