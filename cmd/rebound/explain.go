package main

import (
	"fmt"
	"io"
)

func runExplain(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rebound explain: not built yet")
	return 1
}
