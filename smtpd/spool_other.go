//go:build !linux

package smtpd

func inMemoryFS(string) bool { return false }
