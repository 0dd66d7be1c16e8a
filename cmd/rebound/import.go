package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/store"
)

// runImport implements "rebound import PATH...": every message of the
// inputs (files, mbox files, maildir and other folders, - for standard
// input) is decoded and stored like a message received by SMTP; messages
// that are not bounces are stored as unrecognized.
func runImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := dbFlag(fs)
	lang := fs.String("lang", "en", "language of the explanations: en or nl")
	quiet := fs.Bool("quiet", false, "no progress: no bar on a terminal, no line every 10s elsewhere")
	cfgPath := fs.String("config", "", "configuration file (TOML) of rebound serve: its store, suppression policy, authentication and language; --db, --lang and --unsigned override")
	unsigned := fs.String("unsigned", "", "policy for reports that came to no signed return path: registered, trust or never (default: the configuration's, else registered)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound import [--config FILE] [--db PATH-or-URL] [--lang en|nl] [--unsigned POLICY] [--quiet] PATH...")
		fmt.Fprintln(stderr, "\nPATH is a message file, an mbox file, a maildir or other folder, or - for standard input.")
		fmt.Fprintln(stderr, "A message whose Delivered-To, X-Original-To or Envelope-To is a signed return path is")
		fmt.Fprintln(stderr, "authenticated by it, as at RCPT; others follow the policy for unsigned reports.")
		fmt.Fprintln(stderr, "Records are dated by the report's Arrival-Date, else its Date, else the time of import.")
		fs.PrintDefaults()
	}
	if stop, status := parseFlags(fs, args); stop {
		return status
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	url, opts, language, err := importSettings(fs, *cfgPath, *db, *lang)
	if err != nil {
		return failf(stderr, "import", "%v", err)
	}
	an, err := newAnalyzer(language, 0)
	if err != nil {
		return failf(stderr, "import", "%v", err)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return failf(stderr, "import", "%v", err)
	}
	if *unsigned != "" {
		cfg.Authentication.Unsigned = *unsigned
	}
	if err := cfg.ResolveSecrets(os.Getenv); err != nil {
		return failf(stderr, "import", "%v", err)
	}
	ctx := context.Background()
	st, err := openStore(ctx, url, opts)
	if err != nil {
		return failf(stderr, "import", "%v", err)
	}
	auth, err := newImportAuth(&cfg, st)
	if err != nil {
		st.Close()
		return failf(stderr, "import", "%v", err)
	}
	in := &mailbox.Reader{Stdin: os.Stdin, MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	var progress *importProgress
	if !*quiet {
		progress = &importProgress{w: stderr, every: 10 * time.Second, total: -1}
		if isTerminal(stderr) {
			progress.bar = true
			progress.total = countMessages(fs.Args())
		}
	}
	sum := importMessages(ctx, an, auth, st, in, fs.Args(), progress, stderr)
	if err := st.Close(); err != nil {
		fmt.Fprintf(stderr, "rebound import: closing store: %v\n", err)
		sum.errors.Add(1)
	}
	fmt.Fprintf(stdout, "import: %d messages, %d records, %d duplicates, %d unrecognized, %d errors\n",
		sum.messages.Load(), sum.records.Load(), sum.duplicates.Load(), sum.unrecognized.Load(), sum.errors.Load())
	if sum.errors.Load() > 0 {
		return 1
	}
	return 0
}

type importSummary struct {
	messages, records, duplicates, unrecognized, errors atomic.Int64
}

// importMessages stores every message of paths. Several workers decode and
// save at once, so that the store commits their saves together. A message
// that makes the decoder panic is stored as unrecognized, like one that
// cannot be decoded, and counted as an error with the panic on stderr.
func importMessages(ctx context.Context, an bounce.MessageAnalyzer, auth *importAuth, st store.Store, in *mailbox.Reader, paths []string, progress *importProgress, stderr io.Writer) *importSummary {
	sum := &importSummary{}
	work := make(chan mailbox.Message, 64)
	var errMu sync.Mutex
	var bar *progressbar.ProgressBar
	if progress != nil && progress.bar {
		bar = newImportBar(progress.w, progress.total)
	}
	report := func(format string, a ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if bar != nil {
			bar.Clear()
		}
		fmt.Fprintf(stderr, "rebound import: "+format+"\n", a...)
		sum.errors.Add(1)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4*runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				res, err := importOne(ctx, an, auth, st, m)
				if res.panic != nil {
					report("%s: %v\n%s", m.Source, res.panic, strings.TrimSuffix(panicStack(res.panic), "\n"))
				}
				if err != nil {
					report("%s: %v", m.Source, err)
					continue
				}
				sum.messages.Add(1)
				if res.Duplicate {
					sum.duplicates.Add(1)
				} else {
					sum.records.Add(int64(res.records))
				}
				if res.unrecognized {
					sum.unrecognized.Add(1)
				}
			}
		}()
	}

	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if progress == nil {
			return
		}
		every := progress.every
		if bar != nil {
			every = 200 * time.Millisecond
		}
		start := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				if bar != nil {
					errMu.Lock()
					bar.Clear()
					errMu.Unlock()
				}
				return
			case <-t.C:
				errMu.Lock()
				done := sum.messages.Load() + sum.errors.Load()
				if bar != nil {
					if progress.total >= 0 && done > progress.total {
						// More messages than files: some were mbox files.
						progress.total = -1
						bar.ChangeMax64(-1)
					}
					bar.Describe(fmt.Sprintf("importing: %d records, %d errors", sum.records.Load(), sum.errors.Load()))
					bar.Set64(done)
				} else {
					fmt.Fprintf(progress.w, "import: %d messages, %d records, %d errors, %.0f msgs/s\n",
						sum.messages.Load(), sum.records.Load(), sum.errors.Load(),
						float64(sum.messages.Load())/time.Since(start).Seconds())
				}
				errMu.Unlock()
			}
		}
	}()

	in.Each(paths, func(m mailbox.Message, err error) error {
		if err != nil {
			report("%v", err)
			return nil
		}
		work <- m
		return nil
	})
	close(work)
	wg.Wait()
	close(stopProgress)
	<-progressDone
	return sum
}

// importResult is what became of one stored message.
type importResult struct {
	store.SaveResult
	records      int
	unrecognized bool
	// panic is set when the decoder panicked on the message, which is
	// then stored as unrecognized.
	panic *bounce.PanicError
}

// importOne decodes and stores one message; a message that cannot be
// decoded, or makes the decoder panic, is stored as unrecognized.
func importOne(ctx context.Context, an bounce.MessageAnalyzer, auth *importAuth, st store.Store, m mailbox.Message) (importResult, error) {
	now := time.Now().UTC()
	msg := &store.Message{ReceivedAt: now, Source: m.Source, Raw: m.Data}
	var out importResult
	recs, rep, err := bounce.SafeAnalyze(an, m.Data, m.Source)
	if err != nil {
		msg.ParseError = err.Error()
		errors.As(err, &out.panic)
	} else {
		if rep != nil {
			msg.Format = rep.Format
			msg.TruncatedRecipients = rep.TruncatedRecipients
			// An old bounce counts when it came, not when it was
			// imported: a soft-bounce window spans the bounces' dates.
			msg.ReceivedAt = bounceDate(rep, now)
		}
		for i := range recs {
			recs[i].ReceivedAt = msg.ReceivedAt
		}
		msg.Records = recs
		if len(recs) > 0 {
			if msg.AuthResults, err = auth.check(ctx, m.Data, rep, recs); err != nil {
				return out, err
			}
		}
	}
	res, err := st.Save(ctx, msg)
	if err != nil {
		return out, err
	}
	out.SaveResult, out.records, out.unrecognized = res, len(msg.Records), len(msg.Records) == 0
	return out, nil
}

// maxFutureDate is how far ahead of the clock a report's date may be and
// still be believed: time zones and slow clocks, not a sender's typo.
const maxFutureDate = 24 * time.Hour

// bounceDate is when the bounce was received by the MTA that reported
// it: the report's Arrival-Date (RFC 3464 section 2.2.5), else the
// message's Date (RFC 5322 section 3.6.1), both in the date syntax that
// net/mail.ParseDate reads. It is now when neither reads, or when the
// date is more than a day ahead of now.
func bounceDate(rep *dsn.Report, now time.Time) time.Time {
	for _, v := range []string{rep.ArrivalDate, rep.Date} {
		if v == "" {
			continue
		}
		t, err := mail.ParseDate(v)
		if err != nil || t.After(now.Add(maxFutureDate)) {
			continue
		}
		return t.UTC()
	}
	return now
}

// importProgress says how rebound import shows its progress on w: a bar
// that rewrites itself on a terminal, else a line every so often.
type importProgress struct {
	w     io.Writer
	bar   bool
	total int64         // messages to import with the bar; -1: not known (a spinner)
	every time.Duration // between lines without the bar
}

// newImportBar is the bar of a terminal: done of total with the rate and
// the time left, or a spinner with the count when total is not known.
func newImportBar(w io.Writer, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("msgs"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
}

// countMessages counts the messages of the inputs when that is cheap: a
// folder's files, one message each. It returns -1 when an input's count
// is known only once read: standard input, or a file that is an mbox.
func countMessages(paths []string) int64 {
	var n int64
	for _, path := range paths {
		if path == "-" {
			return -1
		}
		fi, err := os.Stat(path)
		if err != nil {
			n++ // reported as one error
			continue
		}
		if !fi.IsDir() {
			if isMbox(path) {
				return -1
			}
			n++
			continue
		}
		filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				n++
			case d.IsDir():
				if p != path && d.Name() == "tmp" {
					return filepath.SkipDir
				}
			case d.Type().IsRegular():
				n++
			}
			return nil
		})
	}
	return n
}

// isMbox reports whether the file at path starts with an mbox "From "
// line, so that it may hold any number of messages.
func isMbox(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [5]byte
	_, err = io.ReadFull(f, head[:])
	return err == nil && string(head[:]) == "From "
}

// isTerminal reports whether w is a terminal (a character device), where a
// progress line that rewrites itself is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
