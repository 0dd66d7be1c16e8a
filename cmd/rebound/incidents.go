package main

import (
	"fmt"
	"io"
)

func runIncidents(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rebound incidents: not built yet")
	return 1
}
