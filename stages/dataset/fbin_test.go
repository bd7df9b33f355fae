package dataset

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/vector"
)

func vectorSet(dim int64) *dsl.Vectors {
	return &dsl.Vectors{Dimension: dim, Metric: "L2", Distribution: "clustered", Clusters: 3, Queries: 10}
}

// TestFbinShardHoldsItsVectors writes shards through buffers of several
// sizes and reads back the header and every vector, which must be the
// collection's vectors first = i × samples_per_file onwards.
func TestFbinShardHoldsItsVectors(t *testing.T) {
	const dim, spf = 5, 7
	d := dsl.Dataset{Format: "fbin", Files: 3, SamplesPerFile: spf, RecordBytes: 4 * dim, Vectors: vectorSet(dim)}
	l, err := New("vecs", d, 42)
	if err != nil {
		t.Fatal(err)
	}
	src := l.VectorSource()
	want := make([]float32, dim)
	for _, bufLen := range []int{0, 8, 29, 1 << 16} {
		for i := range d.Files {
			var b bytes.Buffer
			n, err := l.Write(&b, i, nil, make([]byte, bufLen))
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(b.Len()) || n != l.FileSize(i) {
				t.Fatalf("buf %d, file %d: wrote %d bytes (returned %d), FileSize says %d", bufLen, i, b.Len(), n, l.FileSize(i))
			}
			p := b.Bytes()
			if c, dm := binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]); c != spf || dm != dim {
				t.Fatalf("file %d: header says %d vectors of %d, want %d of %d", i, c, dm, spf, dim)
			}
			for k := range int64(spf) {
				src.Vector(i*spf+k, want)
				for j := range dim {
					off := vector.ShardHeaderSize + 4*(k*dim+int64(j))
					if got := math.Float32frombits(binary.LittleEndian.Uint32(p[off:])); got != want[j] {
						t.Fatalf("buf %d, file %d, vector %d[%d] = %v, want %v", bufLen, i, k, j, got, want[j])
					}
				}
			}
		}
	}
	if l.Collection() != 21 {
		t.Errorf("Collection() = %d, want 21", l.Collection())
	}
	if other, _ := New("other", d, 42); other.VectorSource() == nil {
		t.Fatal("no source")
	} else {
		a, b := make([]float32, dim), make([]float32, dim)
		src.Vector(0, a)
		other.VectorSource().Vector(0, b)
		if a[0] == b[0] {
			t.Errorf("datasets vecs and other drew the same first vector %v", a)
		}
	}
}

func TestFbinRefusesWhatIsNoCollection(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    dsl.Dataset
		want string
	}{
		{"no vectors", dsl.Dataset{Format: "fbin", Files: 1, SamplesPerFile: 1, RecordBytes: 16}, "add vectors"},
		{"stdev", dsl.Dataset{Format: "fbin", Files: 1, SamplesPerFile: 1, RecordBytes: 16, RecordBytesStdev: 2, Vectors: vectorSet(4)}, "record_bytes_stdev must be 0"},
		{"record bytes", dsl.Dataset{Format: "fbin", Files: 1, SamplesPerFile: 1, RecordBytes: 12, Vectors: vectorSet(4)}, "leave record_bytes out"},
		{"vectors on npz", dsl.Dataset{Format: "npz", Files: 1, SamplesPerFile: 1, RecordBytes: 16, Vectors: vectorSet(4)}, "whose format is fbin"},
	} {
		_, err := New("x", tc.d, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
