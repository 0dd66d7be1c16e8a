// Command rebound is the Rebound bounce processor: an SMTP listener that
// stores and classifies bounces, and tools to parse, explain and query them.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// A command is one subcommand of rebound. run gets the arguments after the
// command name and returns the process exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"parse":    {"decode bounce messages and print one record per recipient", runParse},
		"explain":  {"explain an enhanced status code or a server reply", runExplain},
		"serve":    {"run the SMTP listener that stores bounces", runServe},
		"import":   {"store bounces from files, mbox files and maildir folders", runImport},
		"bounces":  {"list stored bounce records", runBounces},
		"messages": {"list stored messages, show one, or write its raw bytes", runMessages},

		"load":         {"send bounces to an SMTP listener and measure it", runLoad},
		"bench-lookup": {"measure the latency of suppression lookups through the API at a fixed rate", runBenchLookup},
		"suppressions": {"list, check, add, remove and export suppressed addresses", runSuppressions},
		"incidents":    {"list sending-side incidents (blocks by destination)", runIncidents},
		"verp":         {"encode and decode signed return paths (VERP)", runVERP},
		"config":       {"check the configuration file, or show the configuration in effect", runConfig},
		"version":      {"print the version of rebound", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout, cmds)
		return 0
	case "--version", "-version":
		return runVersion(nil, stdout, stderr)
	case "help":
		// "rebound help CMD [SUB]" is "rebound CMD [SUB] --help".
		if len(args) == 1 {
			usage(stdout, cmds)
			return 0
		}
		args = append(args[1:len(args):len(args)], "--help")
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rebound: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if wantsHelp(args[1:]) {
		// Asked for, the usage is the output: every command prints it
		// where it prints its messages, and nothing else.
		stderr = stdout
	}
	return c.run(args[1:], stdout, stderr)
}

// wantsHelp reports whether args ask for a command's usage: -h, -help or
// --help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: rebound COMMAND [flags] [args]")
	fmt.Fprintln(w, "       rebound help COMMAND")
	fmt.Fprintln(w, "       rebound --version")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'rebound help COMMAND' or 'rebound COMMAND --help' for the flags of a command.")
}
