package main

import (
	"fmt"
	"io"
)

func runParse(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rebound parse: not built yet")
	return 1
}
