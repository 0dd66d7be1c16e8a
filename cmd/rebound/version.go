package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion implements "rebound version" and "rebound --version": the
// module version the binary was built from and its VCS revision, as the
// Go toolchain recorded them.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound version")
		fmt.Fprintln(stderr, "\nPrints the module version and the VCS revision rebound was built from.")
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(bi))
	return 0
}

// versionLine is "rebound VERSION" with the revision, its time and
// whether the tree was modified, when the build recorded them; a build
// outside a module version (go build in the tree) is "(devel)".
func versionLine(bi *debug.BuildInfo) string {
	version := "(devel)"
	if bi == nil {
		return "rebound " + version
	}
	if v := bi.Main.Version; v != "" {
		version = v
	}
	line := "rebound " + version
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		line += " revision " + rev
		if modified == "true" {
			line += " (modified)"
		}
		if at != "" {
			line += " " + at
		}
	}
	return line + " " + bi.GoVersion
}
