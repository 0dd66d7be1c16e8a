package main

import (
	"flag"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
)

// storeOptions are the store settings of a configuration: its suppression
// policy (low_confidence_hard included) and batch size. rebound serve and
// rebound import both open their store with them, so that a bounce is
// scored alike whichever way it came in.
func storeOptions(cfg *config.Config) store.Options {
	return store.Options{Policy: cfg.Policy(), BatchSize: cfg.Store.BatchSize}
}

// loadConfig reads the configuration file at path, or gives the defaults
// when path is empty.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Defaults(), nil
	}
	return config.Load(path)
}

// configFlag defines the --config flag of a command.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (TOML) of rebound serve; the flags given override it")
}

// overrides maps the name of a flag to the setting of the configuration
// it replaces.
type overrides map[string]func(*config.Config)

// resolveConfig reads the configuration at path (the defaults when path
// is empty) and applies the override of every flag of fs that was given
// on the command line: a flag given wins, one not given leaves the file's
// value, not the flag's default. Secrets are not resolved: a command that
// uses them calls ResolveSecrets.
func resolveConfig(fs *flag.FlagSet, path string, ov overrides) (config.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return config.Config{}, err
	}
	fs.Visit(func(f *flag.Flag) {
		if set := ov[f.Name]; set != nil {
			set(&cfg)
		}
	})
	return cfg, nil
}

// flagGiven reports whether the flag name of fs was given on the command
// line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// importSettings resolves what rebound import works with: the store URL,
// its options and the language of the explanations. Without --config they
// are the defaults; with it, those of the file (what rebound serve reads),
// each overridden by its flag when that was given.
func importSettings(fs *flag.FlagSet, cfgPath, db, lang string) (url string, opts store.Options, language string, err error) {
	cfg, err := resolveConfig(fs, cfgPath, overrides{
		"db":   func(c *config.Config) { c.Store.URL = db },
		"lang": func(c *config.Config) { c.Classify.Language = lang },
	})
	if err != nil {
		return "", store.Options{}, "", err
	}
	return cfg.Store.URL, storeOptions(&cfg), cfg.Classify.Language, nil
}
