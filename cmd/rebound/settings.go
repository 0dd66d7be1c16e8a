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

// importSettings resolves what rebound import works with: the store URL,
// its options and the language of the explanations. Without --config they
// are the defaults; with it, those of the file (what rebound serve reads),
// each overridden by its flag when that was given.
func importSettings(fs *flag.FlagSet, cfgPath, db, lang string) (url string, opts store.Options, language string, err error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return "", store.Options{}, "", err
	}
	url, language = cfg.Store.URL, cfg.Classify.Language
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "db":
			url = db
		case "lang":
			language = lang
		}
	})
	return url, storeOptions(&cfg), language, nil
}
