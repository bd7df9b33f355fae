package file_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/backendtest"
	_ "mlps.dev/mlps/backends/file"
)

func open(t *testing.T, uri string) backends.Backend {
	t.Helper()
	b, err := backends.Open(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileURI(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend {
			// A root that does not exist yet: the first write makes it.
			return open(t, fileURI(filepath.Join(t.TempDir(), "root")))
		})
	})
	t.Run("tmp", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return open(t, "tmp://") })
	})
}

// dirOf returns the directory a backend's Location names.
func dirOf(t *testing.T, b backends.Backend) string {
	t.Helper()
	u, err := url.Parse(b.Properties().Location)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("Location %q is not a file URI (%v)", b.Properties().Location, err)
	}
	return filepath.FromSlash(u.Path)
}

func TestTmpRemovedOnClose(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base")
	for _, uri := range []string{"tmp://", fileURI(base)} {
		uri = strings.Replace(uri, "file:", "tmp:", 1)
		t.Run(uri, func(t *testing.T) {
			b := open(t, uri)
			dir := dirOf(t, b)
			if uri != "tmp://" && filepath.Dir(dir) != base {
				t.Errorf("tmp directory %s is not below %s", dir, base)
			}
			w, err := b.Create(t.Context(), "x/y.bin", 3)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("abc"))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "x", "y.bin")); err != nil {
				t.Fatalf("object not written below the tmp directory: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("after Close, Stat(%s) = %v; want the directory removed", dir, err)
			}
		})
	}
}

func TestFileLeavesDataOnClose(t *testing.T) {
	root := t.TempDir()
	b := open(t, "file://localhost"+filepath.ToSlash(root))
	if got := dirOf(t, b); got != root {
		t.Errorf("Location names %s, want %s", got, root)
	}
	w, err := b.Create(t.Context(), "kept.bin", -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	w.Close()
	b.Close()
	if data, err := os.ReadFile(filepath.Join(root, "kept.bin")); err != nil || string(data) != "abc" {
		t.Errorf("after Close, kept.bin = %q, %v; want the data kept", data, err)
	}
}

func TestBadURIs(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notDir, nil, 0o644)
	for _, tc := range []struct{ uri, want string }{
		{"file://data/x", "file:///abs/dir"},
		{"file:data", "file:///abs/dir"},
		{"file://", "file:///abs/dir"},
		{"file://user:hunter2@localhost/x", "file targets take no credentials"},
		{"file:///x?sync=1", "no query"},
		{fileURI(notDir), "not a directory"},
		{"tmp://host/x", "tmp:///abs/base"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			b, err := backends.Open(t.Context(), tc.uri)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.uri)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) error %q does not mention %q", tc.uri, err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open(%q) error %q shows the password", tc.uri, err)
			}
		})
	}
}

// Writes are the hot path of data generation: one syscall, nothing else.
func TestWriteDoesNotAllocate(t *testing.T) {
	b := open(t, "tmp://")
	defer b.Close()
	w, err := b.Create(t.Context(), "hot.bin", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	buf := make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() { w.Write(buf) }); n != 0 {
		t.Errorf("Write allocates %v times per call, want 0", n)
	}
}
