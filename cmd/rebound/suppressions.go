package main

import (
	"fmt"
	"io"
)

func runSuppressions(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rebound suppressions: not built yet")
	return 1
}
