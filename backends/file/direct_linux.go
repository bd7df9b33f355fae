package file

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"mlps.dev/mlps/backends"
)

// OpenDirect opens name for reading with O_DIRECT, so reads bypass the page
// cache as DLIO's reader.odirect does. Storage is read in whole aligned
// blocks: a Read into an aligned buffer of aligned length goes straight
// from the device into it; other reads go through the reader's own
// aligned block buffer.
func (b *backend) OpenDirect(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	f, end, err := b.openRange(ctx, name, off, length, os.O_RDONLY|syscall.O_DIRECT)
	if errors.Is(err, syscall.EINVAL) {
		// The kernel refuses O_DIRECT on a directory before openRange can
		// see that it is one; a directory is no object, as for Open.
		if fi, serr := os.Stat(b.path(name)); serr == nil && fi.IsDir() {
			return nil, b.notObject("open", name)
		}
	}
	if err != nil {
		return nil, err
	}
	return &directReader{f: f, b: b, name: name, pos: off, end: end}, nil
}

type directReader struct {
	f        *os.File
	b        *backend
	name     string
	pos, end int64
	block    []byte // for unaligned reads; allocated on first need
}

func aligned(p []byte) bool {
	return len(p) > 0 && uintptr(unsafe.Pointer(&p[0]))%backends.DirectAlign == 0 && len(p)%backends.DirectAlign == 0
}

func (r *directReader) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	const a = backends.DirectAlign
	if r.pos%a == 0 && aligned(p) {
		// Ask for no more than the range, rounded up to whole blocks: a
		// 1 MiB request for a 316 KiB file would have the kernel map and
		// pin the whole buffer for the read.
		p = p[:min(int64(len(p)), (r.end-r.pos+a-1)/a*a)]
		n, err := r.f.ReadAt(p, r.pos)
		n = int(min(int64(n), r.end-r.pos))
		r.pos += int64(n)
		return n, r.err(n, err)
	}
	if r.block == nil {
		r.block = backends.AlignedBuffer(max(len(p), a))
	}
	start := r.pos / a * a
	want := min(int64(len(r.block)), (r.end-start+a-1)/a*a)
	n, err := r.f.ReadAt(r.block[:want], start)
	skip := int(r.pos - start)
	if n <= skip {
		return 0, r.err(0, err)
	}
	got := copy(p, r.block[skip:min(int64(n), r.end-start)])
	r.pos += int64(got)
	return got, r.err(got, err)
}

// err drops the io.EOF of a read that ends at the file's end but still
// delivered bytes, and wraps the rest.
func (r *directReader) err(n int, err error) error {
	if err == io.EOF {
		if n > 0 || r.pos < r.end {
			if r.pos < r.end && n == 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		return io.EOF
	}
	if err != nil {
		return backends.Wrap(r.b.scheme, "read", r.name, err)
	}
	return nil
}

func (r *directReader) Close() error {
	return backends.Wrap(r.b.scheme, "close", r.name, r.f.Close())
}

// CreateDirect creates name for writing with O_DIRECT, so writes bypass
// the page cache. Aligned writes of whole blocks go straight to the
// device; the first write that is not (a file's short tail) turns
// O_DIRECT off for the rest of the file, since the kernel refuses it.
func (b *backend) CreateDirect(ctx context.Context, name string, size int64) (backends.Writer, error) {
	w, err := b.create(ctx, name, syscall.O_DIRECT)
	if err != nil {
		return nil, err
	}
	return &directWriter{writer: w, direct: true}, nil
}

type directWriter struct {
	*writer
	direct bool
}

func (w *directWriter) Write(p []byte) (int, error) {
	if w.direct && !aligned(p) && !w.done {
		// A file's tail from an aligned buffer: its whole blocks still go
		// around the page cache, and only the last partial block through
		// it; turning O_DIRECT off for all of a 32 MiB tail sent a tenth
		// of a checkpoint through the page cache.
		const a = backends.DirectAlign
		if whole := len(p) / a * a; whole > 0 && aligned(p[:whole]) {
			n, err := w.writer.Write(p[:whole])
			if err != nil {
				return n, err
			}
			m, err := w.Write(p[whole:])
			return n + m, err
		}
		if err := w.buffered(); err != nil {
			return 0, err
		}
	}
	return w.writer.Write(p)
}

// buffered clears O_DIRECT on the open file.
func (w *directWriter) buffered() error {
	fd := w.f.Fd()
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	if errno == 0 {
		_, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, flags&^syscall.O_DIRECT)
	}
	if errno != 0 {
		err := backends.Wrap(w.b.scheme, "write", w.name, errno)
		w.err = err
		return err
	}
	w.direct = false
	return nil
}

// Evict writes name back and drops its pages from the page cache
// (fdatasync, then posix_fadvise DONTNEED), which needs no privilege,
// unlike /proc/sys/vm/drop_caches.
func (b *backend) Evict(ctx context.Context, name string) error {
	if err := b.check(ctx, "evict", name); err != nil {
		return err
	}
	f, err := os.Open(b.path(name))
	if err != nil {
		return b.lookupErr("evict", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return backends.Wrap(b.scheme, "evict", name, err)
	} else if fi.IsDir() {
		return b.notObject("evict", name)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return backends.Wrap(b.scheme, "evict", name, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return backends.Wrap(b.scheme, "evict", name, err)
	}
	return nil
}

// Free is the space an unprivileged writer may still use on the file
// system of the root, or of its nearest existing parent when the root is
// not made yet (statfs f_bavail × f_bsize).
func (b *backend) Free(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dir := b.root
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return 0, backends.Wrap(b.scheme, "statfs", "", err)
		}
		dir = parent
	}
}
