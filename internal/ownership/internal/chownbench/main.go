// Command chownbench runs ownership.Fix alone, for bench/chown.sh and by
// hand, before the option is wired into gosu:
//
//	chownbench [-workers N] [-from UID:GID] [-v] UID:GID PATH...
//
// It exits 1, with the error on stderr, when a walk fails.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gosu/internal/ownership"
)

func main() {
	workers := flag.Int("workers", 0, "directories walked at once (0: GOMAXPROCS)")
	from := flag.String("from", "", "narrow mode: only uid:gid (either part may be empty) changes")
	verbose := flag.Bool("v", false, "print the summary and the skipped entries")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: chownbench [-workers N] [-from UID:GID] [-v] UID:GID PATH...")
		os.Exit(2)
	}
	uid, gid := ids(flag.Arg(0))
	o := ownership.New(uint32(uid), uint32(gid))
	o.Workers = *workers
	if *from != "" {
		o.FromUID, o.FromGID = ids(*from)
	}
	for _, path := range flag.Args()[1:] {
		s, err := ownership.Fix(path, o)
		if *verbose {
			fmt.Fprintln(os.Stderr, s.Summary())
			for _, x := range s.Skipped {
				fmt.Fprintln(os.Stderr, "  skipped", x)
			}
			for _, x := range s.Mounts {
				fmt.Fprintln(os.Stderr, "  mount", x)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// ids parses UID:GID; an empty part is -1.
func ids(s string) (int64, int64) {
	u, g, _ := strings.Cut(s, ":")
	return id(u), id(g)
}

func id(s string) int64 {
	if s == "" {
		return -1
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chownbench: bad id", s)
		os.Exit(2)
	}
	return int64(n)
}
