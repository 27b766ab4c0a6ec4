// Command fsops tries operations on files and processes and prints, for
// each, "OP ARG: ok" or "OP ARG: ERRNO" (the kernel's name, EACCES), for
// gosu's Landlock tests. It exits 0 whatever the results.
//
//	write PATH          open(O_WRONLY|O_CREAT|O_TRUNC), write "x"
//	thread-write PATH   the same, from a thread started after the exec
//	read PATH           open(O_RDONLY), read
//	list DIR            open(O_RDONLY|O_DIRECTORY), getdents
//	mkdir PATH          mkdir(0755)
//	mkfifo PATH         mknod(S_IFIFO)
//	mkchar PATH         mknod(S_IFCHR), 1:3 (what /dev/null is)
//	mkblock PATH        mknod(S_IFBLK), 7:0 (what /dev/loop0 is)
//	remove PATH         unlink
//	rename FROM TO      rename(2)
//	link FROM TO        link(2)
//	truncate PATH       truncate(2) to 0
//	chmod PATH          chmod(2) to 0600
//	kill PID            kill(PID, 0): may a signal be sent? ("ppid": the parent)
//	mem PID             open /proc/PID/mem (a ptrace access check; "ppid" too)
//	connect NAME        connect to the abstract unix socket @NAME
//	listen NAME         listen on @NAME, print "listening", and wait
//	otrunc PATH         open(O_RDONLY|O_TRUNC)
//	ioctl PATH          open(O_RDONLY|O_NOCTTY), then the TCGETS ioctl
//	uring-write PATH    write, with the open made by io_uring (IORING_OP_OPENAT)
//	memfd-exec ARG      copy this program into a memfd and run it from
//	                    there, as "fsops read ARG"; its own line follows
//	sigio PID           ask for SIGKILL, not SIGIO, to be sent to PID when a
//	                    pipe becomes readable (F_SETOWN, F_SETSIG), and fill
//	                    it ("ppid" too)
//	handle PATH         name_to_handle_at(PATH), then open_by_handle_at on the
//	                    mount of /, read-write
//	bind PATH           bind a unix socket to PATH
//	userns-mount DIR    run "fsops mount DIR" in a new user and mount
//	                    namespace, with CAP_SYS_ADMIN there; its line follows
//	mount DIR           make / private, then mount a tmpfs on DIR
package main

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		op, arity := args[0], 1
		switch op {
		case "rename", "link":
			arity = 2
		}
		if len(args) <= arity {
			os.Stderr.WriteString("fsops: " + op + " needs " + strconv.Itoa(arity) + " argument(s)\n")
			os.Exit(2)
		}
		a := args[1 : 1+arity]
		args = args[1+arity:]
		err := do(op, a)
		res := "ok"
		if errno, ok := err.(syscall.Errno); ok {
			res = unix.ErrnoName(errno)
		} else if err != nil {
			res = err.Error()
		}
		line := op + " " + a[0]
		if arity == 2 {
			line += " " + a[1]
		}
		os.Stdout.WriteString(line + ": " + res + "\n")
	}
}

func do(op string, a []string) error {
	switch op {
	case "write":
		return write(a[0])
	case "thread-write":
		done := make(chan error)
		go func() {
			// A thread of its own, kept so that no other goroutine runs on it.
			runtime.LockOSThread()
			done <- write(a[0])
		}()
		return <-done
	case "read":
		fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Read(fd, make([]byte, 16))
		return err
	case "list":
		fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Getdents(fd, make([]byte, 4096))
		return err
	case "mkdir":
		return unix.Mkdir(a[0], 0o755)
	case "mkfifo":
		return unix.Mknod(a[0], unix.S_IFIFO|0o644, 0)
	case "mkchar":
		return unix.Mknod(a[0], unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
	case "mkblock":
		return unix.Mknod(a[0], unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0)))
	case "remove":
		return unix.Unlink(a[0])
	case "rename":
		return unix.Rename(a[0], a[1])
	case "link":
		return unix.Link(a[0], a[1])
	case "truncate":
		return unix.Truncate(a[0], 0)
	case "chmod":
		return unix.Chmod(a[0], 0o600)
	case "kill":
		pid, err := strconv.Atoi(a[0])
		if a[0] == "ppid" {
			pid, err = os.Getppid(), nil
		}
		if err != nil {
			return err
		}
		return unix.Kill(pid, 0)
	case "mem":
		pid := a[0]
		if pid == "ppid" {
			pid = strconv.Itoa(os.Getppid())
		}
		fd, err := unix.Open("/proc/"+pid+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "otrunc":
		fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "ioctl":
		fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	case "uring-write":
		fd, err := uringOpen(a[0], unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte("x"))
		return err
	case "memfd-exec":
		return memfdExec(a[0])
	case "sigio":
		pid, err := strconv.Atoi(a[0])
		if a[0] == "ppid" {
			pid, err = os.Getppid(), nil
		}
		if err != nil {
			return err
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			return err
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETOWN, pid); err != nil {
			return err
		}
		if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETSIG, int(unix.SIGKILL)); err != nil {
			return err
		}
		if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETFL, unix.O_ASYNC|unix.O_NONBLOCK); err != nil {
			return err
		}
		_, err = unix.Write(p[1], []byte("x"))
		return err
	case "handle":
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return err
		}
		root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(root)
		fd, err := unix.OpenByHandleAt(root, h, unix.O_RDWR|unix.O_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "bind":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Bind(fd, &unix.SockaddrUnix{Name: a[0]})
	case "userns-mount":
		return usernsMount(a[0])
	case "mount":
		if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return err
		}
		return unix.Mount("none", a[0], "tmpfs", 0, "")
	case "connect", "listen":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		addr := &unix.SockaddrUnix{Name: "@" + a[0]}
		if op == "connect" {
			err = unix.Connect(fd, addr)
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, addr); err != nil {
			return err
		}
		if err := unix.Listen(fd, 8); err != nil {
			return err
		}
		os.Stdout.WriteString("listening\n")
		for {
			time.Sleep(time.Hour)
		}
	}
	return syscall.EINVAL
}

func write(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte("x"))
	return err
}
