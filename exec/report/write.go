package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// OutError is an output directory the report may not be written to: the
// user's to fix with another --out or --force.
type OutError struct {
	Dir    string
	Reason string
}

func (e *OutError) Error() string { return "report directory " + e.Dir + ": " + e.Reason }

// Claim makes out ready for the report of the runs in dirs: it creates
// it, or takes an existing empty directory, or with force one that holds
// files (of which the report replaces only its own). A directory at or
// below a run's is refused whatever force says: a results directory
// holds what its run wrote and nothing else.
func Claim(out string, dirs []string, force bool) error {
	real, err := resolve(out)
	if err != nil {
		return &OutError{out, err.Error()}
	}
	for _, d := range dirs {
		rd, err := resolve(d)
		if err != nil {
			return &OutError{out, err.Error()}
		}
		if real == rd || strings.HasPrefix(real, rd+string(filepath.Separator)) {
			return &OutError{out, fmt.Sprintf("is inside the results directory %s, which holds only what its run wrote: choose another with --out", d)}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return &OutError{out, err.Error()}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return &OutError{out, err.Error()}
	}
	if len(entries) > 0 && !force {
		return &OutError{out, "already holds files; the report is written only into a new or empty directory: choose another with --out, or pass --force to write its files there, replacing an earlier report's"}
	}
	return nil
}

// resolve is path made absolute with the symbolic links of its longest
// existing prefix followed, so that two names of one directory compare
// equal whether or not the rest of the path exists yet.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// Write writes the report's files into out, which Claim made ready, and
// returns their paths.
func (rep *Report) Write(out string) ([]string, error) {
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"results.csv", rep.WriteCSV},
		{"results.json", rep.WriteJSON},
		{"report.html", rep.WriteHTML},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(out, f.name)
		if err := writeFile(p, f.write); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeFile writes to a temporary name and renames it into place, so
// that an earlier report's file is replaced whole or not at all.
func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
