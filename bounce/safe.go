package bounce

import (
	"fmt"
	"runtime/debug"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

// A MessageAnalyzer turns one raw message into records. *Analyzer is the
// one used in production.
type MessageAnalyzer interface {
	Analyze(msg []byte, source string) ([]record.Record, *dsn.Report, error)
}

// A PanicError is a panic in the decoder or classifier while analyzing a
// message, turned into an error by SafeAnalyze.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the stack of the panicking goroutine, as debug.Stack prints it
}

func (e *PanicError) Error() string { return fmt.Sprintf("decoder panic: %v", e.Value) }

// SafeAnalyze runs an.Analyze on msg and turns a panic into a *PanicError,
// so that a bug reached by one message costs that message only: the
// listener stores it as unrecognized, the batch commands report it and go
// on with the next. Every caller that analyzes messages it did not write
// itself goes through here.
func SafeAnalyze(an MessageAnalyzer, msg []byte, source string) (recs []record.Record, rep *dsn.Report, err error) {
	defer func() {
		if v := recover(); v != nil {
			recs, rep, err = nil, nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return an.Analyze(msg, source)
}
