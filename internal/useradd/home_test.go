package useradd

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHomeRace is the attack of issue 12.15, for real: while the home is
// made in a directory the attacker may write, the attacker keeps moving
// whatever appears at the home's name away and a directory of its choosing
// (here one it cannot otherwise change: mode 0700) into its place. The
// victim must never get the new owner or mode. With mkdir, then open, then
// fchown (before staging) the victim was given away 2 times in 300 rounds
// here (the issue saw 4 in 60). A second attacker swaps the staging
// directory itself for one of its own: gosu must refuse, never build in it.
// It runs as any user: the mode gosu sets (0755) shows a victim touched.
func TestHomeRace(t *testing.T) {
	for _, target := range []string{"home", "staging"} {
		t.Run(target, func(t *testing.T) { homeRace(t, target == "staging") })
	}
}

func homeRace(t *testing.T, stage bool) {
	parent := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if uid == 0 {
		uid, gid = 4000, 4000
	}
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pfd)
	hits, refused := 0, 0
	var swaps atomic.Int64
	for round := range 300 {
		n := strconv.Itoa(round)
		victim := filepath.Join(parent, "victim"+n)
		if err := os.Mkdir(victim, 0o700); err != nil {
			t.Fatal(err)
		}
		var vst unix.Stat_t
		if err := unix.Lstat(victim, &vst); err != nil {
			t.Fatal(err)
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !stage {
					if unix.Renameat(pfd, "u"+n, pfd, "moved"+n) == nil && unix.Renameat(pfd, "victim"+n, pfd, "u"+n) == nil {
						swaps.Add(1)
					}
					continue
				}
				names, _ := os.ReadDir(parent)
				for _, e := range names {
					if strings.HasPrefix(e.Name(), ".gosu-home-") && unix.Renameat(pfd, e.Name(), pfd, "stolen"+n) == nil {
						if unix.Mkdirat(pfd, e.Name(), 0o755) == nil {
							swaps.Add(1)
						}
					}
				}
			}
		}()
		home := filepath.Join(parent, "u"+n)
		err := makeHome(home, uid, gid)
		close(stop)
		<-done
		switch {
		case errors.Is(err, ErrUnsafe):
			refused++
		case err != nil:
			t.Errorf("round %d: %v", round, err)
		case stage:
			// The home is in place, complete: this attacker does not move it.
			var st unix.Stat_t
			if err := unix.Lstat(home, &st); err != nil || st.Uid != uid || st.Mode != unix.S_IFDIR|0o755 {
				t.Errorf("round %d: home mode %o owner %d, %v", round, st.Mode, st.Uid, err)
			}
		}
		// Find the victim wherever it went, by its inode.
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(parent, e.Name()), &st) != nil {
				continue
			}
			if st.Ino == vst.Ino && (st.Mode != vst.Mode || st.Uid != vst.Uid || st.Gid != vst.Gid) {
				hits++
				t.Errorf("round %d: the victim, now %s, was given away: mode %o owner %d:%d", round, e.Name(), st.Mode, st.Uid, st.Gid)
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR && strings.HasPrefix(e.Name(), ".gosu-home-") && st.Mode&0o777 == 0o755 {
				if sub, _ := os.ReadDir(filepath.Join(parent, e.Name())); len(sub) > 0 {
					t.Errorf("round %d: gosu built in the attacker's staging directory: %v", round, sub)
				}
			}
			if !stage && strings.HasPrefix(e.Name(), ".gosu-home-") {
				t.Errorf("round %d: staging directory %s left behind", round, e.Name())
			}
		}
	}
	t.Logf("%d swaps landed, %d refused, %d gave the victim away", swaps.Load(), refused, hits)
}
