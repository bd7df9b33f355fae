// Package vector is the math shared by mlps's vector-search stages: the
// metrics and their distance kernels (AVX2 assembly on amd64), the seeded
// collections and query sets, the layouts collections and ground truths
// are stored in, top-k selection, the exact ground truth and recall.
// Indexes (stages/vector/ivf, stages/vector/diskann) build on it; none of
// it knows about backends, which reach an index only through Blobs.
package vector

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
)

// Metric is how near two vectors are. Every metric is turned into a
// distance where smaller is nearer, so that one top-k serves all three.
type Metric uint8

const (
	// L2 is the squared Euclidean distance (the root does not change the
	// order, so it is never taken).
	L2 Metric = iota + 1
	// IP is the inner product; its distance is the negated product.
	IP
	// Cosine is the cosine similarity; its distance is 1 − similarity.
	// Indexes store unit vectors and compare them by inner product, as
	// Milvus does.
	Cosine
)

// Metrics lists the metrics by their upstream names.
var Metrics = []string{"L2", "IP", "COSINE"}

// ParseMetric reads a metric by its upstream name (Milvus's metric_type):
// "L2", "IP" or "COSINE", in any case.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToUpper(s) {
	case "L2":
		return L2, nil
	case "IP":
		return IP, nil
	case "COSINE":
		return Cosine, nil
	}
	return 0, fmt.Errorf("unknown metric %q (metrics: %s)", s, strings.Join(Metrics, ", "))
}

func (m Metric) String() string {
	if m >= L2 && m <= Cosine {
		return Metrics[m-1]
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// Distance is the distance between a and b under m, which have the same
// length.
func (m Metric) Distance(a, b []float32) float32 {
	switch m {
	case L2:
		return L2Sq(a, b)
	case IP:
		return -Dot(a, b)
	case Cosine:
		na, nb := Dot(a, a), Dot(b, b)
		if na == 0 || nb == 0 {
			return 1
		}
		return 1 - Dot(a, b)/float32(math.Sqrt(float64(na)*float64(nb)))
	}
	panic("vector: distance of an unknown metric")
}

// Normalize scales v to unit length in place; a zero vector is left as
// it is.
func Normalize(v []float32) {
	n := Dot(v, v)
	if n == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(float64(n)))
	for i := range v {
		v[i] *= inv
	}
}

// Read is one ranged read of an index object: len(Buf) bytes of object
// Name from Off.
type Read struct {
	Name string
	Off  int64
	Buf  []byte
}

// Blobs is the storage an index is written to and served from. The stage
// implements it over a backend and meters every call, so that index code
// never sees a backend and every byte it moves is counted once.
type Blobs interface {
	// Create starts object name of size bytes, as backends.Backend.Create:
	// Close makes it whole, Abort drops it.
	Create(ctx context.Context, name string, size int64) (backends.Writer, error)
	// ReadBatch fills every read's Buf, each read one ranged request; the
	// reads of a batch may be issued at once, as a search issues a beam's
	// or a probe's reads together. Fewer bytes than asked is an error.
	ReadBatch(ctx context.Context, reads []Read) error
}

// OnBackend is Blobs over b, objects named below dir, with the reads of
// a batch issued at once: unmetered, for tests and tools; stages wrap b
// with their meter instead.
func OnBackend(b backends.Backend, dir string) Blobs { return &plainBlobs{b: b, dir: dir} }

type plainBlobs struct {
	b   backends.Backend
	dir string
}

func (p *plainBlobs) name(n string) string {
	if p.dir == "" {
		return n
	}
	return p.dir + "/" + n
}

func (p *plainBlobs) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	return p.b.Create(ctx, p.name(name), size)
}

func (p *plainBlobs) ReadBatch(ctx context.Context, reads []Read) error {
	if len(reads) == 1 {
		return p.read(ctx, reads[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range reads {
		g.Go(func() error { return p.read(gctx, r) })
	}
	return g.Wait()
}

func (p *plainBlobs) read(ctx context.Context, r Read) error {
	rc, err := p.b.Open(ctx, p.name(r.Name), r.Off, int64(len(r.Buf)))
	if err != nil {
		return err
	}
	_, err = io.ReadFull(rc, r.Buf)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %d bytes of %s at %d: %w", len(r.Buf), r.Name, r.Off, err)
	}
	return nil
}
