package smtpd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/emersion/go-smtp"
)

// spoolPrefix starts the names of spool files. A spool file is removed as
// soon as it is created and lives on through its open descriptor only, so
// that no exit, crash included, leaves it behind; New removes what a crash
// between the two steps left.
const spoolPrefix = "rebound-spool-"

// copyBufSize is the size of the buffer the data of a spooled message is
// copied through.
const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Errors of the spool: a full disk is the mail system full (RFC 3463
// section 3.4, 4.3.1), any other failure a temporary local error.
var (
	errSpoolFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "Insufficient system storage, try again later"}
	errSpoolFailed = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary local error, try again later"}
)

// An inbound is the data of one message as it is received: in memory up to
// the spool threshold, in a spool file beyond it. It holds its size of the
// budget until close.
type inbound struct {
	budget   *budget
	reserved int64
	size     int64
	buf      []byte   // the data, while held in memory
	file     *os.File // the spool file, once the data outgrew memory
	copyBuf  *[]byte
	mapped   []byte // the spool file mapped, once received whole
	data     []byte // the whole message, once received
}

// receive reads one message's data from r. declared is the size the client
// announced (RFC 1870), 0 for none: a message declared over the spool
// threshold goes to the spool from its first byte. Every byte received is
// reserved from the budget first; the error is errInsufficientResources
// when it is exhausted, or the error of r (go-smtp's limits, the
// connection failing) unmapped, for the caller to answer.
func (s *Server) receive(r io.Reader, declared int64) (_ *inbound, err error) {
	in := &inbound{budget: s.budget}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	threshold := s.cfg.SpoolThreshold
	if declared > threshold {
		if err := in.spool(s.cfg.SpoolDir); err != nil {
			return nil, err
		}
		s.metrics.spooled.Inc()
	} else {
		c := int64(4 << 10)
		if declared > 0 {
			// SIZE is an estimate; some room over it saves a copy.
			c = declared + declared/16 + 512
		}
		in.buf = make([]byte, 0, min(c, threshold))
	}
	for {
		var p []byte
		if in.file == nil {
			if len(in.buf) == cap(in.buf) {
				if int64(len(in.buf)) >= threshold {
					if err := in.spool(s.cfg.SpoolDir); err != nil {
						return nil, err
					}
					s.metrics.spooled.Inc()
					continue
				}
				grown := make([]byte, len(in.buf), min(max(2*int64(cap(in.buf)), 4<<10), threshold))
				copy(grown, in.buf)
				in.buf = grown
			}
			p = in.buf[len(in.buf):cap(in.buf)]
		} else {
			p = *in.copyBuf
		}
		n, rerr := r.Read(p)
		if n > 0 {
			if !s.budget.reserve(int64(n)) {
				s.metrics.budgetRefused.WithLabelValues("data").Inc()
				return nil, errInsufficientResources
			}
			in.reserved += int64(n)
			in.size += int64(n)
			if in.file == nil {
				in.buf = in.buf[:len(in.buf)+n]
			} else if _, err := in.file.Write(p[:n]); err != nil {
				return nil, spoolError(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if in.file == nil {
		in.data = in.buf
		return in, nil
	}
	if err := in.mapFile(); err != nil {
		return nil, err
	}
	return in, nil
}

// spool moves the data received so far into a new spool file in dir.
func (in *inbound) spool(dir string) error {
	f, err := os.CreateTemp(dir, spoolPrefix+"*")
	if err != nil {
		return spoolError(err)
	}
	// Gone from the directory at once: the data lives as long as the
	// descriptor, whatever happens to the process.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return spoolError(err)
	}
	in.file = f
	if len(in.buf) > 0 {
		if _, err := f.Write(in.buf); err != nil {
			return spoolError(err)
		}
	}
	in.buf = nil
	in.copyBuf = copyBufs.Get().(*[]byte)
	return nil
}

// mapFile makes the spooled data readable as one slice without copying
// it into the heap: mapped read-only where the system can, else read once.
func (in *inbound) mapFile() error {
	copyBufs.Put(in.copyBuf)
	in.copyBuf = nil
	if in.size == 0 {
		return nil
	}
	if m, err := mapReadOnly(in.file, in.size); err == nil {
		in.mapped, in.data = m, m
		return nil
	}
	data := make([]byte, in.size)
	if _, err := in.file.ReadAt(data, 0); err != nil {
		return spoolError(err)
	}
	in.data = data
	return nil
}

// bytes returns the whole message, valid until close.
func (in *inbound) bytes() []byte { return in.data }

// spooled reports whether the message went to the spool.
func (in *inbound) spooled() bool { return in.file != nil }

// close releases the message: its memory or its spool file, and its share
// of the budget.
func (in *inbound) close() {
	if in.mapped != nil {
		unmap(in.mapped)
		in.mapped = nil
	}
	in.data, in.buf = nil, nil
	if in.file != nil {
		in.file.Close()
		in.file = nil
	}
	if in.copyBuf != nil {
		copyBufs.Put(in.copyBuf)
		in.copyBuf = nil
	}
	in.budget.release(in.reserved)
	in.reserved = 0
}

func spoolError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errSpoolFull
	}
	return fmt.Errorf("%w: %w", errSpoolFailed, err)
}

// prepareSpoolDir checks that dir takes spool files and removes those a
// crash left there.
func prepareSpoolDir(dir string) error {
	f, err := os.CreateTemp(dir, spoolPrefix+"*")
	if err != nil {
		return fmt.Errorf("smtpd: spool directory: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("smtpd: spool directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), spoolPrefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// DefaultSpoolDir is where large messages are spooled when Config.SpoolDir
// is empty: $TMPDIR when set, else /var/tmp, which is on disk where /tmp
// may be a tmpfs (in memory, which a spool is meant to spare).
func DefaultSpoolDir() string {
	if d := os.Getenv("TMPDIR"); d != "" {
		return d
	}
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() {
		return "/var/tmp"
	}
	return os.TempDir()
}
