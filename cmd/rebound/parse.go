package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/record"
)

// runParse implements "rebound parse [--json] [--lang en|nl] PATH...": it
// decodes every message of the inputs and prints one record per
// recipient, in input order, decoding over all cores.
func runParse(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON Lines, one record object per line")
	lang := fs.String("lang", "en", "language of the explanations: en or nl (default: the configuration's classify.language)")
	cfgPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound parse [--json] [--config FILE] [--lang en|nl] PATH...")
		fmt.Fprintln(stderr, "\nPATH is a message file, an mbox file, a maildir or other folder, or - for standard input.")
		fmt.Fprintln(stderr, "The recipients of an mbox file that holds several messages are numbered through the file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"lang": func(c *config.Config) { c.Classify.Language = *lang }})
	if err != nil {
		fmt.Fprintf(stderr, "rebound parse: %v\n", err)
		return 2
	}
	cl, err := classify.New(cfg.Classify.Language)
	if err != nil {
		fmt.Fprintf(stderr, "rebound parse: %v\n", err)
		return 2
	}
	an := &bounce.Analyzer{Parser: &dsn.Parser{}, Classifier: cl}
	in := &mailbox.Reader{Stdin: os.Stdin, MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	return parseInputs(an, in, fs.Args(), *asJSON, stdout, stderr)
}

// A parseJob is one message on its way through the workers; done
// receives its outcome.
type parseJob struct {
	msg  mailbox.Message
	err  error
	done chan parseResult
}

type parseResult struct {
	recs []record.Record
	err  error
}

// parseInputs prints the records of every message of paths. A message
// that cannot be decoded, or that makes the decoder panic, is named on
// stderr and skipped; the others are still printed, and the status is 1.
func parseInputs(an bounce.MessageAnalyzer, in *mailbox.Reader, paths []string, asJSON bool, stdout, stderr io.Writer) int {
	workers := runtime.GOMAXPROCS(0)
	// order carries the jobs in input order to the writer, work carries
	// them to whichever worker is free; the buffer bounds the messages in
	// memory.
	order := make(chan *parseJob, 4*workers)
	work := make(chan *parseJob, 4*workers)
	go func() {
		// The callback never fails: unreadable inputs travel as jobs.
		_ = in.Each(paths, func(m mailbox.Message, err error) error {
			j := &parseJob{msg: m, err: err, done: make(chan parseResult, 1)}
			order <- j
			work <- j
			return nil
		})
		close(order)
		close(work)
	}()
	for range workers {
		go func() {
			for j := range work {
				if j.err != nil {
					j.done <- parseResult{err: j.err}
					continue
				}
				recs, _, err := bounce.SafeAnalyze(an, j.msg.Data, j.msg.Source)
				if err != nil {
					err = fmt.Errorf("%s: %w", j.msg.Source, err)
				}
				j.done <- parseResult{recs: recs, err: err}
			}
		}()
	}

	bw := bufio.NewWriterSize(stdout, 64<<10)
	out := newRecordWriter(bw, asJSON)
	status := 0
	var (
		prevPath  string
		prevCount int
		offset    int
	)
	for j := range order {
		res := <-j.done
		if res.err != nil {
			out.flush()
			bw.Flush()
			fmt.Fprintf(stderr, "rebound parse: %v\n%s", res.err, panicStack(res.err))
			status = 1
			continue
		}
		// The records of an mbox file are numbered through the whole file,
		// so that (source, index) names one recipient of one input.
		if j.msg.Number > 1 && j.msg.Path == prevPath {
			offset += prevCount
		} else {
			offset = 0
		}
		prevPath, prevCount = j.msg.Path, len(res.recs)
		for i := range res.recs {
			if j.msg.Number > 0 {
				res.recs[i].Source = j.msg.Path
				res.recs[i].Index += offset
			}
			if err := out.write(&res.recs[i]); err != nil {
				fmt.Fprintf(stderr, "rebound parse: writing output: %v\n", err)
				// Drain so the producer and workers end.
				for j := range order {
					<-j.done
				}
				return 1
			}
		}
	}
	out.flush()
	if err := bw.Flush(); err != nil {
		fmt.Fprintf(stderr, "rebound parse: writing output: %v\n", err)
		return 1
	}
	return status
}

// panicStack returns the stack of the decoder panic err carries, indented
// below the error line, for a bug report; "" for other errors.
func panicStack(err error) string {
	var pe *bounce.PanicError
	if !errors.As(err, &pe) {
		return ""
	}
	var sb strings.Builder
	for _, line := range strings.SplitAfter(strings.TrimRight(string(pe.Stack), "\n"), "\n") {
		sb.WriteString("\t")
		sb.WriteString(line)
	}
	sb.WriteString("\n")
	return sb.String()
}

// A recordWriter prints records as JSON Lines or as an aligned table; the
// table is aligned per block of rows so that output streams.
type recordWriter struct {
	json *json.Encoder
	tw   *tabwriter.Writer
	rows int
}

const tableBlock = 100

func newRecordWriter(w io.Writer, asJSON bool) *recordWriter {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &recordWriter{json: enc}
	}
	return &recordWriter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

func (rw *recordWriter) write(r *record.Record) error {
	if rw.json != nil {
		return rw.json.Encode(r)
	}
	if rw.rows == 0 {
		fmt.Fprintln(rw.tw, "SOURCE\t#\tRECIPIENT\tACTION\tSTATUS\tCODE\tREASON\tCLASS\tCONF\tFORMAT")
	} else if rw.rows%tableBlock == 0 {
		if err := rw.tw.Flush(); err != nil {
			return err
		}
	}
	rw.rows++
	_, err := fmt.Fprintf(rw.tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		r.Source, r.Index, dash(r.Recipient), dash(r.Action), dash(r.Status), dash(r.SMTPCode),
		dash(r.Reason), dash(r.Class), dash(r.Confidence), dash(r.Format))
	return err
}

func (rw *recordWriter) flush() {
	if rw.tw != nil {
		rw.tw.Flush()
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
