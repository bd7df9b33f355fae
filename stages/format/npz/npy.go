package npz

import (
	"fmt"
	"io"
	"math"
)

// NPYSize returns the exact size of the .npy file WriteNPY produces for s:
// x alone, as DLIO's npy datasets hold it (np.save(path, x)).
func NPYSize(s Spec) (int64, error) {
	h, err := npyX(s)
	return int64(len(h)) + s.RecordBytes*s.Samples, err
}

// NPYPayload returns the file extent of x's data in a .npy file.
func NPYPayload(s Spec) (Extent, error) {
	h, err := npyX(s)
	return Extent{int64(len(h)), s.RecordBytes * s.Samples}, err
}

func npyX(s Spec) (string, error) {
	if s.RecordBytes < 1 || s.Samples < 1 {
		return "", fmt.Errorf("npy: record bytes %d and samples %d must both be at least 1", s.RecordBytes, s.Samples)
	}
	if s.RecordBytes > math.MaxInt64/2/s.Samples {
		return "", fmt.Errorf("npy: %d samples of %d bytes overflow a file size", s.Samples, s.RecordBytes)
	}
	d1, d2 := Shape(s)
	return npyHeader("|u1", d1, d2, s.Samples), nil
}

// WriteNPY streams the .npy file of x for s to w: the same header and the
// same array data as x.npy inside the .npz, with fill called at the
// file's own offsets. buf works as for Write.
func WriteNPY(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	h, err := npyX(s)
	if err != nil {
		return 0, err
	}
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}
	z := zipWriter{w: w, buf: buf, fill: fill}
	z.write([]byte(h))
	end := int64(len(h)) + s.RecordBytes*s.Samples
	for off := int64(len(h)); off < end && z.err == nil; {
		p := buf[:min(int64(len(buf)), end-off)]
		fill(p, off)
		z.write(p)
		off += int64(len(p))
	}
	return z.n, z.err
}
