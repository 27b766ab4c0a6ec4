package resolve

import (
	"errors"
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// model is what Open must decide, written the simple way: the name cleaned,
// then walked with lstat by path, a link followed only when it and the
// directories above it are root's alone. It returns the inode reached or
// the error class (ENOENT, ENOTDIR, ELOOP, EPERM for a ".." out of a
// directory a user could have moved). root stands for "/".
func model(root, name string, follow bool) (uint64, error) {
	if name == "" {
		return 0, unix.ENOENT
	}
	p := path.Clean(name)
	for links := 0; ; links++ {
		var st unix.Stat_t
		dir := "."
		if p[0] == '/' {
			dir = root
		}
		if err := unix.Lstat(dir, &st); err != nil {
			return 0, err
		}
		rootOnly := p[0] == '/' && onlyRoot(&st)
		at := ""
		if p[0] == '/' {
			at = "/"
		}
		comps := strings.Split(strings.TrimPrefix(p, "/"), "/")
		if p == "/" || p == "." {
			comps = nil
		}
		next := ""
		for i, c := range comps {
			if err := unix.Lstat(dir+"/"+c, &st); err != nil {
				return 0, err
			}
			last := i == len(comps)-1
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				var here unix.Stat_t
				if c == ".." && !onlyRoot(&st) && (unix.Lstat(dir, &here) != nil || !onlyRoot(&here)) {
					return 0, unix.EPERM
				}
				rootOnly = rootOnly && onlyRoot(&st)
				dir, at = dir+"/"+c, path.Join(at, c)
				if at == "" {
					at = c
				}
				continue
			case unix.S_IFLNK:
				if !rootOnly || st.Uid != 0 || !follow {
					return 0, unix.ELOOP
				}
				target, _ := os.Readlink(dir + "/" + c)
				if !strings.HasPrefix(target, "/") {
					target = path.Join(at, target)
				}
				next = path.Clean(target + "/" + strings.Join(comps[i+1:], "/"))
			default:
				if !last {
					return 0, unix.ENOTDIR
				}
			}
			break
		}
		if next == "" {
			if strings.HasSuffix(name, "/") && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return 0, unix.ENOTDIR
			}
			return st.Ino, nil
		}
		if links == maxLinks {
			return 0, unix.ELOOP
		}
		p = next
	}
}

// Open against the model, on random trees of directories (of root or a
// user, writable by others or not), files, FIFOs and links (of root or a
// user, absolute, relative, through ".."), with random names (absolute and
// relative, with ".", "..", "//", a trailing "/"): the same inode or the
// same error, a link never returned, no descriptor left behind.
func TestAgainstModel(t *testing.T) {
	asRoot := os.Geteuid() == 0
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c"}
	randName := func(n int) string {
		var parts []string
		for range n {
			switch r := rng.IntN(10); {
			case r == 0:
				parts = append(parts, "..")
			case r == 1:
				parts = append(parts, ".")
			case r == 2:
				parts = append(parts, "")
			default:
				parts = append(parts, names[rng.IntN(len(names))])
			}
		}
		return strings.Join(parts, "/")
	}
	compared, followed := 0, 0
	outcomes := map[string]int{}
	for tree := range 150 {
		root := t.TempDir()
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
		var dirs []string
		var build func(dir string, depth int)
		build = func(dir string, depth int) {
			dirs = append(dirs, dir)
			for _, n := range names {
				p := dir + "/" + n
				owner := 0
				if rng.IntN(4) == 0 {
					owner = 2000
				}
				switch r := rng.IntN(10); {
				case r < 4 && depth < 3:
					os.Mkdir(p, 0o755)
					build(p, depth+1)
					os.Chmod(p, []os.FileMode{0o755, 0o755, 0o775, 0o777}[rng.IntN(4)])
				case r < 7:
					targets := []string{"/a", "/a/b", "../a", "b/c", "..", ".", "/", "c/../a", "/b/../c/", "/a/a/a", "x"}
					os.Symlink(targets[rng.IntN(len(targets))], p)
				case r < 8:
					unix.Mkfifo(p, 0o644)
				case r < 9:
					os.WriteFile(p, nil, 0o644)
				default:
					continue
				}
				if asRoot && owner != 0 {
					os.Lchown(p, owner, owner)
				}
			}
		}
		build(root, 0)
		cwd := dirs[rng.IntN(len(dirs))]
		t.Chdir(cwd)
		fds := openFds(t)
		for range 60 {
			name := randName(1 + rng.IntN(5))
			switch rng.IntN(3) {
			case 0:
				name = "/" + name
			case 1:
				name = "/" + name + "/"
			}
			for _, follow := range []bool{false, true} {
				want, wantErr := model(root, name, follow)
				fd, err := open(root, name, follow)
				var got uint64
				if err == nil {
					var st unix.Stat_t
					if e := unix.Fstat(fd, &st); e != nil {
						t.Fatal(e)
					}
					unix.Close(fd)
					got = st.Ino
					if st.Mode&unix.S_IFMT == unix.S_IFLNK {
						t.Errorf("tree %d, cwd %s, %q: a symbolic link", tree, cwd, name)
					}
				} else if fd != -1 {
					t.Errorf("tree %d, %q: descriptor %d with an error", tree, name, fd)
				}
				if got != want || class(err) != class(wantErr) {
					t.Errorf("tree %d, cwd %s, %q (follow %v): %d, %v; the model says %d, %v", tree, strings.TrimPrefix(cwd, root), name, follow, got, err, want, wantErr)
				}
				compared++
				outcomes[class(err)]++
				if follow && err == nil && wantErr == nil {
					if _, e := model(root, name, false); e != nil {
						followed++
					}
				}
			}
		}
		if n := openFds(t); n != fds {
			t.Errorf("tree %d: %d descriptors open after, %d before", tree, n, fds)
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("%d decisions compared, %d through followed links; outcomes %v", compared, followed, outcomes)
	if asRoot && followed == 0 {
		t.Error("no name went through a followed link: the trees test nothing of followRoot")
	}
}

// class is the errno an error wraps, for comparing decisions.
func class(err error) string {
	for _, e := range []error{unix.ENOENT, unix.ENOTDIR, unix.ELOOP, unix.EPERM} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
