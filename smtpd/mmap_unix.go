//go:build unix

package smtpd

import (
	"os"
	"syscall"
)

// mapReadOnly maps the first size bytes of f into memory, read-only. The
// pages are the file's: the kernel reads them in as the decoder reaches
// them and may drop them again, and they are no part of the Go heap.
func mapReadOnly(f *os.File, size int64) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmap(b []byte) { syscall.Munmap(b) }
