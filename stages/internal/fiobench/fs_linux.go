package fiobench

import "syscall"

// statfs reports whether dir is on a RAM-backed file system and how many
// bytes are free there for an unprivileged writer.
func statfs(dir string) (ram bool, free int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false, 0, err
	}
	const tmpfs, ramfs = 0x01021994, 0x858458f6
	ram = st.Type == tmpfs || st.Type == ramfs
	return ram, int64(st.Bavail) * int64(st.Bsize), nil
}

func syncAll() error {
	syscall.Sync()
	return nil
}
