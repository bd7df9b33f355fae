// Package file is the local file system backend. It registers two schemes:
//
//	file:///abs/dir            objects are files below /abs/dir (created on first write)
//	file://localhost/abs/dir   the same
//	tmp://                     a fresh directory from os.MkdirTemp, removed on Close
//	tmp:///abs/base            the same, made below /abs/base
//
// Files are written in place, the way a training data generator writes
// them, so that the benchmark measures the file system and not a
// write-to-temporary-then-rename protocol.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"mlps.dev/mlps/backends"
)

func init() {
	// Both schemes are files in the host's page cache, with O_DIRECT and
	// eviction; a file:// URI always names the same directory, while
	// each tmp:// target is a fresh one.
	traits := backends.Traits{PageCache: true, DirectRead: true, DirectWrite: true, Evict: true}
	shared := traits
	shared.Shared = true
	backends.Register(backends.Scheme{Name: "file", Traits: shared, Check: checkFile, Open: openFile})
	backends.Register(backends.Scheme{Name: "tmp", Traits: traits, Check: checkTmp, Open: openTmp})
}

type backend struct {
	scheme   string
	root     string // absolute, in OS form
	location string
	// dirs holds the directories known to exist, so that writing a million
	// files into a thousand directories costs a thousand MkdirAll calls.
	dirs sync.Map
	// owned is set for tmp://: Close removes root.
	owned     bool
	closeOnce sync.Once
	closeErr  error
}

func checkFile(u *url.URL, _ *backends.Config) (string, error) {
	const want = "want file:///abs/dir or file://localhost/abs/dir"
	switch {
	case u.User != nil:
		return "", errors.New("file URI must not carry a user or password; " + want)
	case u.Opaque != "":
		return "", fmt.Errorf("file URI with relative path %q; %s (give the directory's absolute path)", u.Opaque, want)
	case u.Host != "" && u.Host != "localhost":
		return "", fmt.Errorf("file URI names host %q, but only local paths are supported; %s (for a relative directory %s, give its absolute path)",
			u.Host, want, u.Host+u.Path)
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("file URI takes no query or fragment; " + want)
	}
	root, err := absDir(u.Path)
	if err != nil {
		return "", fmt.Errorf("%v; %s", err, want)
	}
	return location(root), nil
}

func openFile(_ context.Context, u *url.URL, _ *backends.Config) (backends.Backend, error) {
	root, err := absDir(u.Path) // checkFile accepted it
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("file backend root %s exists and is not a directory", root)
	}
	return newBackend("file", root, false), nil
}

func checkTmp(u *url.URL, _ *backends.Config) (string, error) {
	const want = "want tmp:// or tmp:///abs/base"
	if u.User != nil || u.Opaque != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("tmp URI takes only an optional absolute base directory; " + want)
	}
	if u.Path != "" && u.Path != "/" {
		if _, err := absDir(u.Path); err != nil {
			return "", fmt.Errorf("%v; %s", err, want)
		}
	}
	// Every open makes a new directory: no two tmp targets share storage.
	return "", nil
}

func openTmp(_ context.Context, u *url.URL, _ *backends.Config) (backends.Backend, error) {
	base := ""
	if u.Path != "" && u.Path != "/" {
		var err error
		if base, err = absDir(u.Path); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return nil, backends.Wrap("tmp", "create base directory", "", err)
		}
	}
	dir, err := os.MkdirTemp(base, "mlps-")
	if err != nil {
		return nil, backends.Wrap("tmp", "create temporary directory", "", err)
	}
	return newBackend("tmp", dir, true), nil
}

func absDir(p string) (string, error) {
	// file:///C:/data arrives as "/C:/data".
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:]
	}
	p = filepath.FromSlash(p)
	if p == "" || !filepath.IsAbs(p) {
		return "", fmt.Errorf("directory %q is not absolute", p)
	}
	return filepath.Clean(p), nil
}

func newBackend(scheme, root string, owned bool) *backend {
	return &backend{scheme: scheme, root: root, location: location(root), owned: owned}
}

// location is the file:// URI of the directory root.
func location(root string) string {
	p := filepath.ToSlash(root)
	if !strings.HasPrefix(p, "/") { // a Windows drive path
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

func (b *backend) Properties() backends.Properties {
	return backends.Properties{Scheme: b.scheme, Location: b.location}
}

func (b *backend) Close() error {
	b.closeOnce.Do(func() {
		if b.owned {
			b.closeErr = backends.Wrap(b.scheme, "remove", "", os.RemoveAll(b.root))
		}
	})
	return b.closeErr
}

// check validates name and ctx, in that order, so that a bad name is
// reported as such even under a canceled context.
func (b *backend) check(ctx context.Context, op, name string) error {
	if err := backends.CheckName(b.scheme, op, name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return backends.Wrap(b.scheme, op, name, err)
	}
	return nil
}

func (b *backend) path(name string) string {
	return filepath.Join(b.root, filepath.FromSlash(name))
}

// lookupErr classifies an error from opening or stating an existing object.
// ENOTDIR means an element of the name is a file, so the object is missing,
// which is what an object store would say for the same name.
func (b *backend) lookupErr(op, name string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return &backends.Error{Kind: backends.NotExist, Scheme: b.scheme, Op: op, Name: name, Err: err}
	}
	return backends.Wrap(b.scheme, op, name, err)
}

// notObject is returned for a directory: it is a prefix of names, not an
// object.
func (b *backend) notObject(op, name string) error {
	return &backends.Error{Kind: backends.NotExist, Scheme: b.scheme, Op: op, Name: name,
		Err: errors.New("is a directory, not an object")}
}

func (b *backend) mkdirs(dir string) error {
	if _, ok := b.dirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.dirs.Store(dir, struct{}{})
	return nil
}

func (b *backend) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	w, err := b.create(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// create opens name for writing, truncated, with extra open flags.
func (b *backend) create(ctx context.Context, name string, flags int) (*writer, error) {
	if err := b.check(ctx, "create", name); err != nil {
		return nil, err
	}
	p := b.path(name)
	dir := filepath.Dir(p)
	if err := b.mkdirs(dir); err != nil {
		return nil, backends.Wrap(b.scheme, "create", name, err)
	}
	f, err := openPath(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|flags, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed a directory the cache remembers; make it again.
		b.dirs.Clear()
		if err = b.mkdirs(dir); err == nil {
			f, err = openPath(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|flags, 0o644)
		}
	}
	if err != nil {
		return nil, backends.Wrap(b.scheme, "create", name, err)
	}
	return &writer{b: b, f: f, name: name, path: p}, nil
}

func (b *backend) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	f, end, err := b.openRange(ctx, name, off, length, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	// Every Read is a pread at the SectionReader's position: no seek, and
	// no dependence on the file's shared offset.
	return &reader{sr: io.NewSectionReader(f, off, end-off), f: f, b: b, name: name}, nil
}

// openRange opens name with flags for reading [off, off+length) (length < 0:
// to the end) and returns the file and the range's end, checking that the
// name is a file and off lies within it.
func (b *backend) openRange(ctx context.Context, name string, off, length int64, flags int) (*os.File, int64, error) {
	if err := b.check(ctx, "open", name); err != nil {
		return nil, 0, err
	}
	f, err := openPath(b.path(name), flags, 0)
	if err != nil {
		return nil, 0, b.lookupErr("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, backends.Wrap(b.scheme, "open", name, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, b.notObject("open", name)
	}
	size := fi.Size()
	if off < 0 || off > size {
		f.Close()
		return nil, 0, &backends.Error{Kind: backends.Permanent, Scheme: b.scheme, Op: "open", Name: name,
			Err: fmt.Errorf("offset %d is outside the %d-byte object", off, size)}
	}
	end := size
	if length >= 0 && off+length < end {
		end = off + length
	}
	return f, end, nil
}

func (b *backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := b.check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	fi, err := os.Stat(b.path(name))
	if err != nil {
		return backends.Info{}, b.lookupErr("stat", name, err)
	}
	if fi.IsDir() {
		return backends.Info{}, b.notObject("stat", name)
	}
	return backends.Info{Name: name, Size: fi.Size()}, nil
}

func (b *backend) Delete(ctx context.Context, name string) error {
	if err := b.check(ctx, "delete", name); err != nil {
		return err
	}
	p := b.path(name)
	// os.Remove would also remove an empty directory, which is not an
	// object; the extra Lstat keeps Delete's meaning the same as Stat's.
	fi, err := os.Lstat(p)
	if err != nil {
		return b.lookupErr("delete", name, err)
	}
	if fi.IsDir() {
		return b.notObject("delete", name)
	}
	if err := os.Remove(p); err != nil {
		return b.lookupErr("delete", name, err)
	}
	return nil
}

// writer writes straight to the final path. It does not implement
// io.ReaderFrom: os.File's would turn a file-to-file copy into
// copy_file_range, which measures something other than writing.
type writer struct {
	b    *backend
	f    *os.File
	name string
	path string
	err  error // the first Write error; Close must not commit after it
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.closedErr("write")
	}
	n, err := w.f.Write(p)
	if err != nil {
		err = backends.Wrap(w.b.scheme, "write", w.name, err)
		if w.err == nil {
			w.err = err
		}
	}
	return n, err
}

// Sync makes what was written durable (fsync), for callers that measure
// durable writes, as checkpointing does.
func (w *writer) Sync() error {
	if w.done {
		return w.closedErr("sync")
	}
	if err := w.f.Sync(); err != nil {
		err = backends.Wrap(w.b.scheme, "sync", w.name, err)
		if w.err == nil {
			w.err = err
		}
		return err
	}
	return nil
}

// Close does not fsync: a training data generator does not either, and
// "durable to the backend's usual standard" for a file is the page cache.
func (w *writer) Close() error {
	if w.done {
		return w.closedErr("close")
	}
	w.done = true
	err := w.f.Close()
	if w.err != nil || err != nil {
		os.Remove(w.path)
		if w.err != nil {
			return w.err
		}
		return backends.Wrap(w.b.scheme, "close", w.name, err)
	}
	return nil
}

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return backends.Wrap(w.b.scheme, "abort", w.name, err)
	}
	return nil
}

func (w *writer) closedErr(op string) error {
	return &backends.Error{Kind: backends.Permanent, Scheme: w.b.scheme, Op: op, Name: w.name,
		Err: errors.New("writer already closed or aborted")}
}

type reader struct {
	sr   *io.SectionReader
	f    *os.File
	b    *backend
	name string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.sr.Read(p)
	if err != nil && err != io.EOF {
		err = backends.Wrap(r.b.scheme, "read", r.name, err)
	}
	return n, err
}

func (r *reader) Close() error {
	return backends.Wrap(r.b.scheme, "close", r.name, r.f.Close())
}
