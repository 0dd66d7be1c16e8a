//go:build !unix

package smtpd

import (
	"errors"
	"os"
)

// mapReadOnly is not available here: the spooled data is read once.
func mapReadOnly(f *os.File, size int64) ([]byte, error) {
	return nil, errors.ErrUnsupported
}

func unmap([]byte) {}
