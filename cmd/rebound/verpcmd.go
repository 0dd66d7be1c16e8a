package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rebound-mail/rebound/config"
)

// runVERP implements "rebound verp encode|decode": the signed return paths
// of package verp, for scripts and for checking a mailer's setup.
//
// encode prints one return path per ADDRESS and exits 0, or 1 naming the
// address it could not encode. decode prints the recipient a return path
// names and exits 0 when it verifies, or prints why not and exits 1.
func runVERP(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: rebound verp encode [--config FILE] [--db PATH-or-URL] [--domain DOMAIN] ADDRESS...")
		fmt.Fprintln(stderr, "       rebound verp decode [--config FILE] [--db PATH-or-URL] RETURN-PATH")
		fmt.Fprintln(stderr, "\nKeys come from the configuration's [verp] section or REBOUND_VERP_KEYS=id1:secret1,id2:secret2")
		fmt.Fprintln(stderr, "(the first signs, all verify). The store keeps the tokens of recipients too long to carry.")
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		usage()
		return 0
	}
	if sub != "encode" && sub != "decode" {
		fmt.Fprintf(stderr, "rebound verp: unknown subcommand %q\n", sub)
		usage()
		return 2
	}
	fs := flag.NewFlagSet("verp "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (TOML) of rebound serve: its [verp] keys and store")
	db := fs.String("db", "", "store keeping long recipients' tokens: SQLite path or postgres:// URL (default: the configuration's, else "+defaultDB+")")
	domain := fs.String("domain", "", "bounce domain of the return path (default: the configuration's first bounce domain)")
	fs.Usage = func() {
		usage()
		fs.PrintDefaults()
	}
	if stop, status := parseFlags(fs, args); stop {
		return status
	}
	if sub == "decode" && fs.NArg() != 1 || sub == "encode" && fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg := config.Defaults()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return failf(stderr, "verp", "%v", err)
		}
	}
	if err := cfg.ResolveSecrets(os.Getenv); err != nil {
		return failf(stderr, "verp", "%v", err)
	}
	if *db != "" {
		cfg.Store.URL = *db
	}
	tokens := &lazyTokens{url: cfg.Store.URL, opts: storeOptions(&cfg)}
	defer tokens.Close()
	signer, err := newSigner(&cfg, tokens)
	if err != nil {
		return failf(stderr, "verp", "%v", err)
	}
	if signer == nil {
		return failf(stderr, "verp", "no keys: set [[verp.keys]] in the configuration or %s=id:secret", config.VERPKeysEnv)
	}
	ctx := context.Background()
	if sub == "decode" {
		res, err := signer.Decode(ctx, fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "rebound verp: %s\n", strings.TrimPrefix(err.Error(), "verp: "))
			return 1
		}
		fmt.Fprintln(stdout, res.Recipient)
		return 0
	}
	d := *domain
	if d == "" {
		d = cfg.Domains[0]
	}
	status := 0
	for _, addr := range fs.Args() {
		rp, err := signer.Encode(ctx, addr, d)
		if err != nil {
			fmt.Fprintf(stderr, "rebound verp: %q: %s\n", addr, strings.TrimPrefix(err.Error(), "verp: "))
			status = 1
			continue
		}
		fmt.Fprintln(stdout, rp)
	}
	return status
}
