//go:build !unix

package file

import (
	"io/fs"
	"os"
)

func openPath(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
