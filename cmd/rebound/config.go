package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/rebound-mail/rebound/config"
)

const configUsage = `usage: rebound config check [--config FILE]
       rebound config show [--config FILE] [--all]

check reads FILE as rebound serve does, its secrets (files and the
environment) included, and prints "ok: FILE" and exits 0, or prints every
error and exits 1. show prints the configuration in effect as TOML: the
options that differ from the defaults, or with --all every option; secrets
are shown as "(set)".`

// runConfig implements "rebound config check|show".
func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, configUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	if sub != "check" && sub != "show" {
		fmt.Fprintf(stderr, "rebound config: unknown subcommand %q\n\n%s\n", sub, configUsage)
		return 2
	}
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (TOML) of rebound serve (default: none, the built-in defaults)")
	var all *bool
	if sub == "show" {
		all = fs.Bool("all", false, "print every option, not only those that differ from the defaults")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, configUsage)
		fmt.Fprintln(stderr, "\nflags of "+sub+":")
		fs.PrintDefaults()
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}
	name := *cfgPath
	if name == "" {
		name = "(defaults)"
	}
	cfg, err := loadConfig(*cfgPath)
	if err == nil {
		err = cfg.ResolveSecrets(os.Getenv)
	}
	if err != nil {
		// Each error on a line of its own: the file's errors are joined
		// by newlines, unknown options by "; ".
		for _, line := range strings.Split(err.Error(), "\n") {
			for _, e := range strings.Split(line, "; ") {
				fmt.Fprintf(stderr, "rebound config %s: %s\n", sub, e)
			}
		}
		return 1
	}
	if sub == "check" {
		fmt.Fprintf(stdout, "ok: %s\n", name)
		return 0
	}
	b, err := showConfig(cfg, *all)
	if err != nil {
		return failf(stderr, "config show", "%v", err)
	}
	stdout.Write(b)
	return 0
}

// secretShown stands for a secret that is set in the output of show.
const secretShown = "(set)"

// showConfig encodes cfg as TOML with its secrets masked: every option
// with all, else, like postconf -n, only those whose value differs from
// the defaults (a list of tables differs as a whole).
func showConfig(cfg config.Config, all bool) ([]byte, error) {
	maskSecrets(&cfg)
	m, err := tomlMap(cfg)
	if err != nil {
		return nil, err
	}
	if !all {
		d, err := tomlMap(config.Defaults())
		if err != nil {
			return nil, err
		}
		pruneDefaults(m, d)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maskSecrets replaces every secret that is set by secretShown.
func maskSecrets(cfg *config.Config) {
	for i := range cfg.API.Tokens {
		if cfg.API.Tokens[i].Token != "" {
			cfg.API.Tokens[i].Token = secretShown
		}
	}
	for i := range cfg.Webhooks.Endpoints {
		if cfg.Webhooks.Endpoints[i].Secret != "" {
			cfg.Webhooks.Endpoints[i].Secret = secretShown
		}
	}
	for i := range cfg.VERP.Keys {
		if cfg.VERP.Keys[i].Secret != "" {
			cfg.VERP.Keys[i].Secret = secretShown
		}
	}
}

// tomlMap is cfg as the TOML decoder reads its encoding: tables as maps,
// values as they are written in a file.
func tomlMap(cfg config.Config) (map[string]any, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if _, err := toml.Decode(buf.String(), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// pruneDefaults deletes from m the values equal to those of defaults, and
// the tables left empty.
func pruneDefaults(m, defaults map[string]any) {
	for k, v := range m {
		d, ok := defaults[k]
		if !ok {
			continue
		}
		mt, isTable := v.(map[string]any)
		dt, wasTable := d.(map[string]any)
		if isTable && wasTable {
			pruneDefaults(mt, dt)
			if len(mt) == 0 {
				delete(m, k)
			}
			continue
		}
		if reflect.DeepEqual(v, d) {
			delete(m, k)
		}
	}
}
