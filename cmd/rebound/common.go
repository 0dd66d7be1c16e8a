package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// defaultDB is the store of every command when neither --db nor a
// configuration file names one.
const defaultDB = "./rebound.db"

// storeBackends are the store backends this program is built with, by URL
// scheme (see package store).
var storeBackends = map[string]store.OpenFunc{
	"sqlite":   sqlite.Open,
	"postgres": postgres.Open,
}

// dbFlag defines the --db flag of a command that works on a store.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", defaultDB, "store: SQLite path or postgres:// URL")
}

// openStore opens the store named by a --db value: a SQLite path (or
// sqlite:PATH) or a postgres:// URL.
func openStore(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	opts.Backends = storeBackends
	return store.Open(ctx, url, opts)
}

// openReadStore opens the existing store at url for reading only: a
// mistyped --db is an error, never a new empty store, and a store on a
// read-only file or folder can be read. The error says which of a missing
// file, a missing folder, a permission or an old schema stopped it.
func openReadStore(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	opts.ReadOnly = true
	st, err := openStore(ctx, url, opts)
	if err != nil {
		return nil, readStoreError(url, err)
	}
	return st, nil
}

// readStoreError says in the words of the command line why the store at
// url could not be opened for reading.
func readStoreError(url string, err error) error {
	var se *store.SchemaError
	if errors.As(err, &se) {
		return se
	}
	scheme, path, perr := store.ParseURL(url)
	if perr != nil || scheme != "sqlite" {
		return err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if dir := filepath.Dir(path); !exists(dir) {
			return fmt.Errorf("no store at %s: there is no folder %s (give --db or store.url)", path, dir)
		}
		return fmt.Errorf("no store at %s (give --db or store.url)", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot read %s: permission denied", path)
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// newAnalyzer builds the decoder and classifier used to turn messages into
// records.
func newAnalyzer(lang string, maxMessageSize int) (*bounce.Analyzer, error) {
	cl, err := classify.New(lang)
	if err != nil {
		return nil, err
	}
	limits := dsn.DefaultLimits
	if maxMessageSize > 0 {
		limits.MaxMessageSize = maxMessageSize
	}
	return &bounce.Analyzer{Parser: &dsn.Parser{Limits: limits}, Classifier: cl}, nil
}

// parseFlags parses args with fs, printing errors and usage to stderr. It
// returns the exit status to use when the command must stop (0 after -h).
func parseFlags(fs *flag.FlagSet, args []string) (stop bool, status int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, 0
		}
		return true, 2
	}
	return false, 0
}

// parseFlagsOnly is parseFlags for a command that takes no operands: with
// any, it prints the usage and stops with status 2.
func parseFlagsOnly(fs *flag.FlagSet, args []string) (stop bool, status int) {
	if stop, status := parseFlags(fs, args); stop {
		return stop, status
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return true, 2
	}
	return false, 0
}

// printList writes items to stdout through one buffer: as JSON Lines, one
// object per line, when asJSON, else as table writes them.
func printList[T any](stdout io.Writer, asJSON bool, items []T, table func(io.Writer, []T) error) error {
	w := bufio.NewWriter(stdout)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := range items {
			if err := enc.Encode(&items[i]); err != nil {
				return err
			}
		}
	} else if err := table(w, items); err != nil {
		return err
	}
	return w.Flush()
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, v)
	return nil
}

// failf prints a command error and returns exit status 1.
func failf(stderr io.Writer, cmd string, format string, a ...any) int {
	fmt.Fprintf(stderr, "rebound %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return 1
}
