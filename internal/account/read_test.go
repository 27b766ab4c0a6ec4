package account

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gosu/internal/testenv"
)

func need(t *testing.T, ok bool, reason string) {
	t.Helper()
	testenv.Need(t, ok, reason)
}

// within runs fn and fails the test if it has not returned after d: the
// attacks here are files that make a naive reader block for ever.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s still running after %v", what, d)
	}
	panic("unreachable")
}

// readAll reads every line with next, as a lookup would.
func readAll(l *lines) ([]string, error) {
	var out []string
	for {
		b, err := l.next()
		if err != nil {
			return out, err
		}
		out = append(out, string(b))
	}
}

func TestLineEndings(t *testing.T) {
	for in, want := range map[string][]string{
		"":                       nil,
		"\n":                     {""},
		"a\nb":                   {"a", "b"},
		"a\nb\n":                 {"a", "b"},
		"a\r\nb\r\n":             {"a", "b"},
		"a\r\nb\r":               {"a", "b"}, // the last line too
		"a\rb\n":                 {"a\rb"},   // only at the end
		"a\r\r\n":                {"a\r"},    // only one
		"\r\n\r\n":               {"", ""},
		"\r":                     {""},
		"a\n\rb\n":               {"a", "\rb"},
		"mixed\nline\r\nends\n":  {"mixed", "line", "ends"},
		"no final newline\r\n\r": {"no final newline", ""},
	} {
		for _, size := range []int{16, 64 << 10} { // through long, and not
			got, err := readAll(newLinesSize(strings.NewReader(in), size, MaxLine))
			if err != io.EOF || !slices.Equal(got, want) {
				t.Errorf("lines(%q, buffer %d) = %q, %v; want %q", in, size, got, err, want)
			}
		}
	}
}

// passwdLineOf returns a well-formed passwd line of exactly n bytes.
func passwdLineOf(name string, n int) string {
	line := name + ":x:1:1::/:/bin/sh"
	return name + ":x:1:1:" + strings.Repeat("g", n-len(line)) + ":/:/bin/sh"
}

func TestLineCap(t *testing.T) {
	if want := "line longer than " + strconv.Itoa(MaxLine) + " bytes"; ErrLineTooLong.Error() != want {
		t.Errorf("ErrLineTooLong = %q; want %q", ErrLineTooLong, want)
	}
	exact := passwdLineOf("exact", MaxLine)
	over := passwdLineOf("over", MaxLine+1)
	for _, tc := range []struct {
		content, name string
		err           string // "" for found; PATH stands for the file
	}{
		{exact + "\n", "exact", ""},
		{exact + "\r\n", "exact", ""}, // the "\r" is not counted
		{exact, "exact", ""},          // nor a missing newline
		{exact + "\r", "exact", ""},
		{"a:x:1:1:::\n" + over + "\n", "a", ""}, // found before the long line
		{over + "\n", "over", "PATH:1: line longer than 1048576 bytes"},
		{over, "over", "PATH:1: line longer than 1048576 bytes"},
		{over + "\r\n", "over", "PATH:1: line longer than 1048576 bytes"},
		{exact + "\r\r\n", "exact", "PATH:1: line longer than 1048576 bytes"}, // only one "\r" is free
		{"#c\n\nx:x:1:1:::\n" + over + "\nover:x:1:1:::\n", "over", "PATH:4: line longer than 1048576 bytes"},
		{"#" + strings.Repeat("c", MaxLine) + "\n", "c", "PATH:1: line longer than 1048576 bytes"}, // comments too
	} {
		db := fixture(t, tc.content, "")
		u, err := db.UserByName(tc.name)
		if tc.err == "" {
			if err != nil || u.Name != tc.name {
				t.Errorf("UserByName(%q) in %d bytes = %q, %v", tc.name, len(tc.content), u.Name, err)
			}
			continue
		}
		want := strings.ReplaceAll(tc.err, "PATH", db.Passwd)
		var le *LineError
		if err == nil || err.Error() != want || !errors.Is(err, ErrLineTooLong) || !errors.As(err, &le) || le.Path != db.Passwd {
			t.Errorf("UserByName(%q) in %d bytes: %v; want %q", tc.name, len(tc.content), err, want)
		}
	}
}

// TestLongLineInMiddle is a 2 MiB line between good ones: whatever needs to
// read past it fails, naming it, instead of skipping or gathering it.
func TestLongLineInMiddle(t *testing.T) {
	long := strings.Repeat("y", 2<<20)
	pw := "root:x:0:0::/root:/bin/sh\nmid:x:5:5:" + long + ":/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
	grp := "root:x:0:\nbig:x:1:" + long + ",app\nusers:x:100:app\n"
	db := fixture(t, pw, grp)
	if u, err := db.UserByName("root"); err != nil || u.UID != 0 {
		t.Errorf("UserByName(root) = %+v, %v", u, err)
	}
	if u, found, err := db.UserByID(0); err != nil || !found || u.Name != "root" {
		t.Errorf("UserByID(0) = %+v, %v, %v", u, found, err)
	}
	wantPw := db.Passwd + ":2: line longer than 1048576 bytes"
	wantGr := db.Group + ":2: line longer than 1048576 bytes"
	if _, err := db.UserByName("app"); err == nil || err.Error() != wantPw || errors.Is(err, ErrNoPasswdEntries) {
		t.Errorf("UserByName(app): %v; want %q", err, wantPw)
	}
	if _, _, err := db.UserByID(1000); err == nil || err.Error() != wantPw {
		t.Errorf("UserByID(1000): %v; want %q", err, wantPw)
	}
	if g, err := db.GroupByName("root"); err != nil || g.GID != 0 {
		t.Errorf("GroupByName(root) = %+v, %v", g, err)
	}
	if _, err := db.GroupByName("users"); err == nil || err.Error() != wantGr {
		t.Errorf("GroupByName(users): %v; want %q", err, wantGr)
	}
	if gids, err := db.GroupsOf("app"); err == nil || err.Error() != wantGr || gids != nil {
		t.Errorf("GroupsOf(app) = %v, %v; want %q", gids, err, wantGr)
	}
}

// endless is a reader that never ends and never sends a newline, like
// /dev/zero, counting what was read from it.
type endless struct{ n int }

func (e *endless) Read(b []byte) (int, error) {
	clear(b)
	e.n += len(b)
	return len(b), nil
}

// maxAlloc is what reading one line may allocate at most: the 64 KiB read
// buffer, and the line gathered once, with room for a "\r" and one more
// buffer; and 16 KiB for the rest and the allocator's rounding up.
const maxAlloc = 64<<10 + MaxLine + 1 + 64<<10 + 16<<10

// allocated returns the bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestEndlessLineIsBounded(t *testing.T) {
	src := &endless{}
	var err error
	bytes := allocated(func() { _, err = newLines(src).next() })
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("next on an endless line: %v", err)
	}
	// One buffer of 64 KiB past the limit at most.
	if limit := MaxLine + 2 + 64<<10; src.n > limit {
		t.Errorf("read %d bytes of an endless line; want at most %d", src.n, limit)
	}
	if bytes > maxAlloc {
		t.Errorf("allocated %d bytes for an endless line; want at most %d", bytes, maxAlloc)
	}
}

// TestSparseFileIsBounded is the regular-file form of /dev/zero: 8 GiB of
// holes, which would be read in full without a limit.
func TestSparseFileIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := DB{Passwd: path}
	var lookupErr error
	bytes := within(t, 10*time.Second, "UserByName in a sparse file", func() uint64 {
		return allocated(func() { _, lookupErr = db.UserByName("app") })
	})
	if want := path + ":1: line longer than 1048576 bytes"; lookupErr == nil || lookupErr.Error() != want {
		t.Errorf("UserByName in 8 GiB of zeros: %v; want %q", lookupErr, want)
	}
	if bytes > maxAlloc {
		t.Errorf("allocated %d bytes; want at most %d", bytes, maxAlloc)
	}
}

// specialFiles makes one file of each kind that is not regular and returns
// them by the name the error must give.
func specialFiles(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{
		"a directory":        t.TempDir(),
		"a character device": "/dev/zero",
		"a FIFO":             filepath.Join(dir, "fifo"),
		"a socket":           filepath.Join(dir, "sock"),
	}
	if err := syscall.Mkfifo(files["a FIFO"], 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", files["a socket"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return files
}

// TestNotRegularIsAnError covers files that never end or never open: each is
// an error naming the file and its kind, at once, for every lookup, never
// an empty file.
func TestNotRegularIsAnError(t *testing.T) {
	checkNotRegular(t, specialFiles(t))
}

// TestDevicesAreNeverOpened uses device numbers with no driver (240 is
// for local, experimental use): opening them fails with ENXIO, so the
// "not a regular file" answer shows that the type was checked before any
// open, as it must be for devices whose open has effects.
func TestDevicesAreNeverOpened(t *testing.T) {
	need(t, os.Geteuid() == 0, "needs root to make device nodes")
	dir := t.TempDir()
	files := map[string]string{"a block device": filepath.Join(dir, "blk"), "a character device": filepath.Join(dir, "chr")}
	for kind, mode := range map[string]uint32{"a block device": syscall.S_IFBLK, "a character device": syscall.S_IFCHR} {
		if err := syscall.Mknod(files[kind], mode|0o644, 240<<8|7); err != nil {
			t.Fatal(err)
		}
		if _, err := open(files[kind]); err != syscall.ENXIO {
			t.Fatalf("opening %s 240,7: %v; want ENXIO", kind, err)
		}
	}
	checkNotRegular(t, files)
}

func checkNotRegular(t *testing.T, files map[string]string) {
	t.Helper()
	for kind, path := range files {
		db := DB{Passwd: path, Group: path}
		want := path + " is not a regular file (" + kind + ")"
		errs := within(t, 5*time.Second, "lookups in "+kind, func() []error {
			_, e1 := db.UserByName("root")
			_, _, e2 := db.UserByID(0)
			_, e3 := db.GroupByName("root")
			_, e4 := db.GroupsOf("root")
			return []error{e1, e2, e3, e4}
		})
		for i, err := range errs {
			var nr *NotRegularError
			if err == nil || err.Error() != want || !errors.Is(err, ErrNotRegular) || !errors.As(err, &nr) || nr.Path != path {
				t.Errorf("%s, lookup %d: %v; want %q", kind, i, err, want)
			}
			if errors.Is(err, ErrNoPasswdEntries) || errors.Is(err, ErrNoGroupEntries) {
				t.Errorf("%s, lookup %d: %v reads as an empty file", kind, i, err)
			}
		}
	}
}

func TestFIFOWithWriterIsRefused(t *testing.T) {
	// A writer that would answer must not be read either: the file type,
	// not the timing, decides.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: does not wait for a reader
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString("app:x:0:0::/root:/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	err = within(t, 5*time.Second, "UserByName", func() error {
		_, err := DB{Passwd: fifo}.UserByName("app")
		return err
	})
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("UserByName in a FIFO with a writer: %v", err)
	}
}

// TestSwapFIFOAndFile swaps a FIFO and a regular file under the path while
// looking it up: whichever is opened, the lookup must answer at once (the
// descriptor's own type is checked, and opening does not wait for a writer).
func TestSwapFIFOAndFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	file, fifo := filepath.Join(dir, "file"), filepath.Join(dir, "fifo")
	fds := openFDs(t)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			var err error
			if i%2 == 0 {
				err = os.WriteFile(file, []byte("app:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
				if err == nil {
					err = os.Rename(file, path)
				}
			} else {
				err = syscall.Mkfifo(fifo, 0o644)
				if err == nil {
					err = os.Rename(fifo, path)
				}
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	db := DB{Passwd: path}
	found, refused := 0, 0
	within(t, 20*time.Second, "lookups while swapping", func() bool {
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
			u, err := db.UserByName("app")
			switch {
			case err == nil && u.UID == 1000:
				found++
			case errors.Is(err, ErrNotRegular):
				refused++
			case errors.Is(err, ErrNoPasswdEntries): // before the first rename
			default:
				t.Errorf("UserByName while swapping: %+v, %v", u, err)
				return false
			}
		}
		return true
	})
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lookups found the user, %d refused a FIFO", found, refused)
	if now := openFDs(t); now != fds {
		t.Errorf("%d descriptors open before, %d after: a refused file was left open", fds, now)
	}
	if found == 0 || refused == 0 {
		t.Errorf("found %d, refused %d: the swap was not exercised", found, refused)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestOpenFlags checks, as the kernel reports it, how an account file is
// held: never inherited by the command, and never waited on.
func TestOpenFlags(t *testing.T) {
	db := fixture(t, "root:x:0:0:::\n", "")
	fd, err := openRegular(db.Passwd)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	fl, err := unixFcntl(fd, syscall.F_GETFL)
	if err != nil || fl&syscall.O_NONBLOCK == 0 || fl&syscall.O_ACCMODE != syscall.O_RDONLY {
		t.Errorf("F_GETFL = %#o, %v; want O_RDONLY|O_NONBLOCK", fl, err)
	}
	if fdfl, err := unixFcntl(fd, syscall.F_GETFD); err != nil || fdfl&syscall.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD = %#x, %v; want FD_CLOEXEC", fdfl, err)
	}
}

func unixFcntl(fd, cmd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func TestCRLF(t *testing.T) {
	db := fixture(t,
		"root:x:0:0:root:/root:/bin/bash\r\n\r\n#c:x:0:0:::\r\napp:x:1000:1000:App:/home/app:/bin/sh\r\n",
		"root:x:0:\r\nusers:x:100:games,app\r\nstaff:x:50:app,high\r\nextra:x:2000:app\r\ntwo:x:3000:app\r\r\nlast:x:4000:app\r")
	if u, err := db.UserByName("app"); err != nil || u != (User{"app", 1000, 1000, "/home/app", "/bin/sh"}) {
		t.Errorf("UserByName(app) = %+v, %v", u, err)
	}
	if u, found, err := db.UserByID(0); err != nil || !found || u.Shell != "/bin/bash" {
		t.Errorf("UserByID(0) = %+v, %v, %v", u, found, err)
	}
	// "two" ends in "\r\r": one is the line ending, the other the member's.
	if gids, err := db.GroupsOf("app"); err != nil || !slices.Equal(gids, []uint32{100, 50, 2000, 4000}) {
		t.Errorf("GroupsOf(app) = %v, %v; want [100 50 2000 4000]", gids, err)
	}
	if gids, err := db.GroupsOf("app\r"); err != nil || !slices.Equal(gids, []uint32{3000}) {
		t.Errorf("GroupsOf(app\\r) = %v, %v; want [3000]", gids, err)
	}
	if g, err := db.GroupByName("last"); err != nil || g.GID != 4000 {
		t.Errorf("GroupByName(last) = %+v, %v", g, err)
	}
}

func TestNotFoundErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *NotFoundError
		want string
		perm bool
	}{
		{&NotFoundError{Err: ErrNoPasswdEntries}, "no matching entries in passwd file", false},
		{&NotFoundError{Err: ErrNoGroupEntries, Unreadable: &fs.PathError{Op: "open", Path: "/etc/group", Err: syscall.EACCES}},
			"no matching entries in group file (/etc/group could not be read: permission denied)", true},
		{&NotFoundError{Err: ErrNoPasswdEntries, Unreadable: &fs.PathError{Op: "open", Path: "/etc/passwd", Err: syscall.EPERM}},
			"no matching entries in passwd file (/etc/passwd could not be read: operation not permitted)", true},
		{&NotFoundError{Err: ErrNoPasswdEntries, Malformed: &Malformed{Path: "/p", Line: 3, Why: errors.New("why")}},
			"no matching entries in passwd file (/p:3 has that name but is malformed and ignored: why)", false},
	} {
		if got := tc.err.Error(); got != tc.want || !errors.Is(tc.err, tc.err.Err) || errors.Is(tc.err, fs.ErrPermission) != tc.perm {
			t.Errorf("%q; want %q, errors.Is(ErrPermission) = %v", got, tc.want, tc.perm)
		}
	}
}

// TestUnreadable checks the hint for files that exist but may not be read,
// which still read as empty. Root reads anything, so as root the checks run
// in a copy of this test binary as nobody.
func TestUnreadable(t *testing.T) {
	if os.Getenv("ACCOUNT_TEST_UNREADABLE_DIR") != "" {
		checkUnreadable(t, os.Getenv("ACCOUNT_TEST_UNREADABLE_DIR"))
		return
	}
	dir, err := os.MkdirTemp("", "account-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := []byte("app:x:1000:1000::/home/app:/bin/sh\n")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"passwd", 0}, {"group", 0},
		{"closed/passwd", 0o644}, {"closed/group", 0o644},
	} {
		path := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "closed"), 0); err != nil { // not searchable
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		checkUnreadable(t, dir)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "account.test")
	b, err := os.ReadFile(self)
	if err == nil {
		err = os.WriteFile(exe, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestUnreadable$", "-test.v")
	cmd.Env = append(os.Environ(), "ACCOUNT_TEST_UNREADABLE_DIR="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestUnreadable")) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func checkUnreadable(t *testing.T, dir string) {
	if os.Geteuid() == 0 {
		t.Fatal("running as root, which may read anything")
	}
	for _, db := range []DB{
		{Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group")},               // mode 000
		{Passwd: filepath.Join(dir, "closed/passwd"), Group: filepath.Join(dir, "closed/group")}, // in a closed directory
	} {
		want := "no matching entries in passwd file (" + db.Passwd + " could not be read: permission denied)"
		if _, err := db.UserByName("app"); err == nil || err.Error() != want || !errors.Is(err, ErrNoPasswdEntries) || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("UserByName(app): %v; want %q", err, want)
		}
		want = "no matching entries in group file (" + db.Group + " could not be read: permission denied)"
		if _, err := db.GroupByName("app"); err == nil || err.Error() != want || !errors.Is(err, ErrNoGroupEntries) {
			t.Errorf("GroupByName(app): %v; want %q", err, want)
		}
		// Still empty, as upstream: an id needs no entry, and a user in no
		// readable group has no supplementary groups.
		if u, found, err := db.UserByID(1000); found || err != nil {
			t.Errorf("UserByID(1000) = %+v, %v, %v; want not found", u, found, err)
		}
		if gids, err := db.GroupsOf("app"); gids != nil || err != nil {
			t.Errorf("GroupsOf(app) = %v, %v; want none", gids, err)
		}
	}
	// A missing file gives no hint: there is nothing to read.
	db := DB{Passwd: filepath.Join(dir, "nope")}
	if _, err := db.UserByName("app"); err == nil || err.Error() != "no matching entries in passwd file" {
		t.Errorf("UserByName in a missing file: %v", err)
	}
}

// refLines is a naive reference for lines: split the whole input.
func refLines(data []byte, max int) ([]string, int) {
	if len(data) == 0 {
		return nil, 0
	}
	parts := strings.Split(string(data), "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	var out []string
	for i, p := range parts {
		p = strings.TrimSuffix(p, "\r")
		if len(p) > max {
			return out, i + 1
		}
		out = append(out, p)
	}
	return out, 0
}

// FuzzLines checks the reader against the naive split, with small buffers
// and limits so that gathering long lines and the limit are reached, and
// checks that a line is never gathered much beyond the limit.
func FuzzLines(f *testing.F) {
	for _, s := range []string{
		"", "\n", "a", "a\n", "a\r\n", "a\r", "\r\n", "a\r\r\n", "a\rb\n",
		"root:x:0:0::/root:/bin/sh\r\napp:x:1000:1000::/:/bin/sh\r\n",
		strings.Repeat("x", 40) + "\n" + strings.Repeat("y", 17) + "\r\n",
		strings.Repeat("x", 40) + "\r\n" + strings.Repeat("y", 41) + "\r",
		strings.Repeat("z", 300),
		strings.Repeat("0123456789abcdef", 8) + "\r",
	} {
		for _, max := range []uint16{0, 1, 15, 16, 17, 39, 40, 41, 1000} {
			f.Add([]byte(s), uint8(0), max)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8, max uint16) {
		bufSize := 16 + int(size) // bufio's smallest is 16
		l := newLinesSize(bytes.NewReader(data), bufSize, int(max))
		want, tooLong := refLines(data, int(max))
		var got []string
		for {
			b, err := l.next()
			if cap(l.long) > int(max)+1+bufSize {
				t.Fatalf("a line buffer of %d bytes with limit %d and buffer %d", cap(l.long), max, bufSize)
			}
			if err == io.EOF && tooLong == 0 {
				break
			}
			if errors.Is(err, ErrLineTooLong) && l.n == tooLong {
				break
			}
			if err != nil {
				t.Fatalf("line %d: %v; reference: %q, too long at %d", l.n, err, want, tooLong)
			}
			got = append(got, string(b))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("lines %q; reference %q", got, want)
		}
	})
}

// refGroupsOf is a naive reference for GroupsOf: split the whole file.
func refGroupsOf(content, user string) []uint32 {
	var gids []uint32
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimLeft(line, " \t") == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" {
			continue
		}
		gid, ok := refID(f[2])
		if ok && f[3] != "" && slices.Contains(strings.Split(f[3], ","), user) && !slices.Contains(gids, gid) {
			gids = append(gids, gid)
		}
	}
	return gids
}

func FuzzGroupsOf(f *testing.F) {
	f.Add(group, "app")
	f.Add("users:x:100:games,app\r\nstaff:x:50:app\r\n", "app")
	f.Add("a:x:1:app\r\r\nb:x:2:app\r", "app\r")
	f.Add("a:x:1:app\nb:x:1:app\n#c:x:3:app\n \t\nd:x:4:,app,\n", "app")
	f.Add("\r\n\r\ng:x:5:\r\n", "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content, user string) {
		db := DB{Group: filepath.Join(dir, "group")}
		if err := os.WriteFile(db.Group, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := db.GroupsOf(user)
		if err != nil || !slices.Equal(got, refGroupsOf(content, user)) {
			t.Fatalf("GroupsOf(%q) in %q = %v, %v; reference says %v", user, content, got, err, refGroupsOf(content, user))
		}
	})
}

// TestUnreadableHintOnlyWhenUnreadable pins that a readable file never gets
// the hint, whatever is in it.
func TestUnreadableHintOnlyWhenUnreadable(t *testing.T) {
	db := fixture(t, "x:x:1:1:::\n", "g:x:1:\n")
	for _, err := range []error{
		func() error { _, err := db.UserByName("app"); return err }(),
		func() error { _, err := db.GroupByName("app"); return err }(),
	} {
		if strings.Contains(err.Error(), "could not be read") || errors.Is(err, fs.ErrPermission) {
			t.Errorf("readable file: %v", err)
		}
	}
}

// refEntries is a naive reference for Scanner: split the whole input,
// keeping each line's number and offset, and skip what skip skips.
type refEntry struct {
	line string
	n    int
	off  int64
}

func refEntries(data []byte) (out []refEntry, tooLong int) {
	off := int64(0)
	for i, p := range strings.SplitAfter(string(data), "\n") {
		if p == "" {
			break
		}
		line := strings.TrimSuffix(strings.TrimSuffix(p, "\n"), "\r")
		if len(line) > MaxLine {
			return out, i + 1
		}
		if strings.TrimLeft(line, " \t") != "" && line[0] != '#' {
			out = append(out, refEntry{line, i + 1, off})
		}
		off += int64(len(p))
	}
	return out, 0
}

// FuzzScanner checks the lines, numbers and offsets Scanner gives against
// the naive split: an offset is where the line's bytes are in the input.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		"", "\n", "a", "#c\na\n", " \t\r\nb\r\n", "a\r\r\nb", passwd, group,
		"root:x:0:0::/root:/bin/sh\r\n# x\r\n\r\napp:x:1000:1000::/:/bin/sh",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewScanner(bytes.NewReader(data), "p")
		want, tooLong := refEntries(data)
		var got []refEntry
		for s.Scan() {
			got = append(got, refEntry{string(s.Line()), s.N(), s.Offset()})
			if e := got[len(got)-1]; string(data[e.off:e.off+int64(len(e.line))]) != e.line {
				t.Fatalf("line %d at offset %d is not %q in the input", e.n, e.off, e.line)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Scanner gives %v; reference %v", got, want)
		}
		var le *LineError
		if tooLong > 0 != errors.As(s.Err(), &le) || tooLong > 0 && (le.Line != tooLong || le.Path != "p") {
			t.Fatalf("Err() = %v; reference: line %d too long", s.Err(), tooLong)
		}
	})
}

func TestScannerLongLineAndOffsets(t *testing.T) {
	data := "a:x:1:1:::\r\n" + strings.Repeat("y", 200000) + "\nb:x:2:2:::\n" + strings.Repeat("z", MaxLine+1) + "\nc:x:3:3:::\n"
	s := NewScanner(strings.NewReader(data), "/etc/passwd")
	var names []string
	for s.Scan() {
		names = append(names, string(s.Line()[:1]))
		if !strings.HasPrefix(data[s.Offset():], string(s.Line())) {
			t.Errorf("line %d: offset %d", s.N(), s.Offset())
		}
	}
	if !slices.Equal(names, []string{"a", "y", "b"}) || s.Err() == nil || s.Err().Error() != "/etc/passwd:4: line longer than 1048576 bytes" {
		t.Errorf("names %v, err %v", names, s.Err())
	}
	if s.Scan() {
		t.Error("Scan after an error")
	}
	if s := NewScanner(nil, "x"); s.Scan() || s.Err() != nil {
		t.Error("nil reader is not empty")
	}
}
