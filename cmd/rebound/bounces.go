package main

import (
	"fmt"
	"io"
)

func runBounces(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rebound bounces: not built yet")
	return 1
}
