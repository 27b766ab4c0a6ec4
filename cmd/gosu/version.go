package main

import "runtime"

// Version is set at release time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// version is the --version line, in upstream's format:
// "1.19 (go1.26.0 on linux/amd64; gc)".
func version() string {
	return Version + " (" + runtime.Version() + " on " + runtime.GOOS + "/" + runtime.GOARCH + "; " + runtime.Compiler + ")"
}
