// Package npztest checks .npz files with NumPy itself, for the tests of any
// package that writes them. Reading our files back with our own code proves
// little; numpy.load accepting them, with the shapes and dtypes DLIO
// expects, is what the benchmark's compatibility rests on.
package npztest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// PythonWithNumpy returns the path of a Python 3 interpreter that can import
// numpy. It tries python3 on PATH first and then /usr/bin/python3, because
// Debian's python3-numpy serves only Debian's own interpreter, which a pyenv
// or virtualenv python3 earlier on PATH hides.
func PythonWithNumpy() (string, error) {
	var tried []error
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			tried = append(tried, err)
			continue
		}
		out, err := exec.Command(path, "-c", "import numpy").CombinedOutput()
		if err != nil {
			tried = append(tried, fmt.Errorf("%s cannot import numpy: %v: %s", path, err, bytes.TrimSpace(out)))
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("no python3 with numpy found (install python3-numpy): %w", errors.Join(tried...))
}

// Python returns PythonWithNumpy's interpreter, or skips t when there is
// none. When the environment variable CI is "true" it fails t instead: a CI
// image that lost NumPy must not quietly stop checking.
func Python(t testing.TB) string {
	t.Helper()
	path, err := PythonWithNumpy()
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %v", err)
	}
	t.Skip("python3 with numpy not found; install python3-numpy")
	return ""
}

// Array is what NumPy saw of one array of an .npz file.
type Array struct {
	Shape []int64 `json:"shape"`
	Dtype string  `json:"dtype"` // NumPy's name, such as "uint8" or "int64"
	// Head and Tail are the first and last bytes (up to Load's edge each)
	// of the array's data in C order, as the array holds them in memory.
	Head []byte `json:"head"`
	Tail []byte `json:"tail"`
}

// The arrays are reinterpreted as bytes through views, so that checking a
// file of hundreds of MB does not double the interpreter's memory.
const loadScript = `
import base64, json, sys
import numpy as np
edge = int(sys.argv[1])
out = []
for path in sys.argv[2:]:
    arrays = {}
    f = np.load(path, allow_pickle=False)
    # A .npy file loads as one array, listed under the name "".
    items = [("", f)] if isinstance(f, np.ndarray) else [(n, f[n]) for n in f.files]
    if True:
        for name, a in items:
            raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
            arrays[name] = {
                "shape": list(a.shape),
                "dtype": str(a.dtype),
                "head": base64.b64encode(raw[:edge].tobytes()).decode(),
                "tail": base64.b64encode(raw[max(0, raw.size - edge):].tobytes()).decode(),
            }
    out.append(arrays)
json.dump(out, sys.stdout)
`

// Load runs numpy.load (with allow_pickle=False) on each path in one python
// process and returns, for each file in order, its arrays by name (such as
// "x" and "y"). edge is how many bytes Head and Tail hold at most.
func Load(python string, edge int, paths ...string) ([]map[string]Array, error) {
	args := append([]string{"-c", loadScript, strconv.Itoa(edge)}, paths...)
	var stderr bytes.Buffer
	cmd := exec.Command(python, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("numpy.load: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var files []map[string]Array
	if err := json.Unmarshal(out, &files); err != nil {
		return nil, fmt.Errorf("numpy.load: reading the script's output: %v", err)
	}
	if len(files) != len(paths) {
		return nil, fmt.Errorf("numpy.load: %d results for %d files", len(files), len(paths))
	}
	return files, nil
}
