package e2e

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"gosu/internal/landlock"
)

// TestScripts runs testdata/script/*.txtar: one file per user-visible
// behaviour, readable as documentation. Scripts see the built gosu and probe
// in PATH, the fixture accounts in $ACCOUNTS, and these commands:
//
//	status CODE CMD [ARG...]    run CMD and check its exit status
//	accounts CODE CMD [ARG...]  the same, with the fixture accounts mounted
//	                            over /etc/passwd and /etc/group (needs root)
//	image CODE CMD [ARG...]     the same, in an image: this machine's / as
//	                            the lower layer of an overlay whose upper
//	                            layer is $WORK/image, so the script's
//	                            image/etc/passwd (group, shadow) is /etc's,
//	                            and what gosu writes lands there (needs root)
//
// The condition [root] tells whether the test runs as root, [landlock]
// whether the kernel has Landlock ABI 7 (landlock.MaxABI) or later.
func TestScripts(t *testing.T) {
	setup(t)
	if ci() && os.Geteuid() != 0 {
		t.Fatal("CI=true: the scripts must run as root")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
			env.Setenv("ACCOUNTS", accounts)
			env.Setenv("BIN", bin)
			env.Setenv("ESC", "\x1b")
			env.Setenv("NL", "\n")
			// The users the scripts switch to reach files under $WORK.
			for _, dir := range []string{filepath.Dir(env.WorkDir), env.WorkDir} {
				if err := os.Chmod(dir, 0o755); err != nil {
					return err
				}
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "landlock": // the newest ABI gosu knows, or later
				abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
				return errno == 0 && abi >= landlock.MaxABI, nil
			case "mergedusr": // /lib is root's link to usr/lib (Debian 12 and later)
				to, err := os.Readlink("/lib")
				return err == nil && to == "usr/lib", nil
			}
			return false, errors.New("unknown condition " + cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				checkStatus(ts, neg, args)
			},
			"accounts": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: accounts CODE CMD [ARG...]")
				}
				checkStatus(ts, neg, append([]string{args[0]}, withAccounts(args[1:]...)...))
			},
			"setinterp": setInterp,
			"image":     inImage,
		},
	})
}

// inImage runs a command in an overlay of / (see TestScripts), entered with
// chroot in a private mount namespace, with /proc and /dev.
func inImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: image CODE CMD [ARG...]")
	}
	upper, work, root := ts.MkAbs("image"), ts.MkAbs(".image-work"), ts.MkAbs(".image-root")
	for _, d := range []string{upper, work, root} {
		ts.Check(os.MkdirAll(d, 0o755))
	}
	setup := `mount -t overlay overlay -o lowerdir=/,upperdir="$1",workdir="$2" "$3" && mount -t proc proc "$3/proc" && ` +
		`mount --bind /dev "$3/dev" && r=$3 && shift 3 && exec chroot "$r" "$@"`
	checkStatus(ts, neg, append([]string{args[0], "unshare", "-m", "--propagation", "private", "sh", "-c", setup, "sh", upper, work, root}, args[1:]...))
}

// setInterp copies a dynamically linked program (SRC) to DST with its ELF
// interpreter renamed to a path that does not exist: a program built for
// another C library, as a glibc binary is in an Alpine image.
//
//	setinterp SRC DST
func setInterp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setinterp SRC DST")
	}
	f, err := elf.Open(args[0])
	ts.Check(err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := os.ReadFile(args[0])
		ts.Check(err)
		interp := b[p.Off : p.Off+p.Filesz]
		copy(interp, "/nonexistent/ld.so\x00")
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o755))
		return
	}
	ts.Fatalf("%s has no ELF interpreter", args[0])
}

func checkStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE CMD [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var exit *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}
