// Command apkvercmp compares Alpine package versions the way apk-tools does,
// like `apk version -t A B`: it prints <, = or >, and refuses a version apk
// would not accept. The package-version test of the release
// (e2e/packages_test.go) runs it, because apk-tools is not packaged for
// Debian. It is github.com/knqyf263/go-apk-version, a port of apk-tools'
// src/version.c (the comparison Trivy uses for Alpine), in its own module so
// that gosu's go.mod stays as it is.
//
//	go run . A B
package main

import (
	"os"

	version "github.com/knqyf263/go-apk-version"
)

func main() {
	if len(os.Args) != 3 {
		os.Stderr.WriteString("usage: apkvercmp VERSION VERSION\n")
		os.Exit(2)
	}
	var v [2]version.Version
	for i, s := range os.Args[1:] {
		var err error
		if v[i], err = version.NewVersion(s); err != nil || !version.Valid(s) {
			os.Stderr.WriteString("apkvercmp: not an apk version: " + s + "\n")
			os.Exit(1)
		}
	}
	os.Stdout.WriteString([]string{"<\n", "=\n", ">\n"}[v[0].Compare(v[1])+1])
}
