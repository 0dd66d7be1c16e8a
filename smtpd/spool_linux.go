package smtpd

import "syscall"

// tmpfsMagic is the f_type statfs(2) gives a tmpfs.
const tmpfsMagic = 0x01021994

// inMemoryFS reports whether dir is on a file system kept in memory, where
// a spool would save none.
func inMemoryFS(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic
}
