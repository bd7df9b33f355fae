package vector

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Distribution is how a collection's vectors are drawn.
type Distribution uint8

const (
	// Uniform draws every component from [-1, 1).
	Uniform Distribution = iota + 1
	// Normal draws every component from N(0, 1).
	Normal
	// Clustered draws a cluster with zipf weights (cluster c has weight
	// 1/(c+1)), then the vector from a Gaussian around its centre, as
	// real embeddings crowd around topics of unequal size.
	Clustered
)

// DefaultClusters is the number of clusters of a Clustered source when a
// workload does not say.
const DefaultClusters = 1024

// Distributions lists the distributions by name.
var Distributions = []string{"uniform", "normal", "clustered"}

// ParseDistribution reads a distribution by name.
func ParseDistribution(s string) (Distribution, error) {
	for i, n := range Distributions {
		if s == n {
			return Distribution(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown distribution %q (distributions: %s)", s, strings.Join(Distributions, ", "))
}

func (d Distribution) String() string {
	if d >= Uniform && d <= Clustered {
		return Distributions[d-1]
	}
	return fmt.Sprintf("Distribution(%d)", uint8(d))
}

// Source makes the vectors of a collection and its held-out queries: each
// a pure function of the seed and its index, so that any shard can be
// generated, regenerated or checked alone, in any order, and no stage
// keeps a vector it can recompute. Its memory is the cluster centres only.
type Source struct {
	dim     int
	dist    Distribution
	seed    uint64
	centres []float32 // clusters × dim, for Clustered
	cum     []float64 // cumulative zipf weights, for Clustered
	spread  float32   // each cluster's standard deviation per component
}

// streams keep the collection, the queries and the centres apart.
const (
	streamCollection = iota
	streamQueries
	streamCentres
)

// NewSource returns the source of dim-dimensional vectors drawn from dist
// (with clusters centres when Clustered) under seed.
func NewSource(dim int, dist Distribution, clusters int, seed uint64) *Source {
	s := &Source{dim: dim, dist: dist, seed: seed}
	if dist == Clustered {
		clusters = max(clusters, 1)
		s.centres = make([]float32, clusters*dim)
		r := s.rng(streamCentres, 0)
		for i := range s.centres {
			s.centres[i] = float32(r.NormFloat64())
		}
		s.cum = make([]float64, clusters)
		total := 0.0
		for c := range clusters {
			total += 1 / float64(c+1)
			s.cum[c] = total
		}
		for c := range s.cum {
			s.cum[c] /= total
		}
		s.spread = 0.25
	}
	return s
}

// Dim is the vectors' dimension.
func (s *Source) Dim() int { return s.dim }

// streamSeed keeps a stream's generators apart from another's.
func (s *Source) streamSeed(stream uint64) uint64 { return s.seed ^ 0x9e3779b97f4a7c15*(stream+1) }

func (s *Source) rng(stream uint64, i int64) *rand.Rand {
	return rand.New(rand.NewPCG(s.streamSeed(stream), uint64(i)))
}

// Vector writes collection vector i into dst[:Dim()].
func (s *Source) Vector(i int64, dst []float32) { s.drawMany(streamCollection, i, dst[:s.dim]) }

// Query writes held-out query i into dst[:Dim()]: drawn from the
// collection's distribution, but never one of its vectors.
func (s *Source) Query(i int64, dst []float32) { s.drawMany(streamQueries, i, dst[:s.dim]) }

// Vectors writes collection vectors first, first+1, ... into dst, a whole
// number of vectors: each what Vector gives, with one generator reseeded
// per vector rather than one allocated per vector.
func (s *Source) Vectors(first int64, dst []float32) { s.drawMany(streamCollection, first, dst) }

// Queries is Vectors for the held-out queries.
func (s *Source) Queries(first int64, dst []float32) { s.drawMany(streamQueries, first, dst) }

func (s *Source) drawMany(stream uint64, first int64, dst []float32) {
	var pcg rand.PCG
	r := rand.New(&pcg)
	seed := s.streamSeed(stream)
	for i := first; len(dst) >= s.dim && s.dim > 0; i++ {
		pcg.Seed(seed, uint64(i))
		s.draw(r, dst[:s.dim])
		dst = dst[s.dim:]
	}
}

func (s *Source) draw(r *rand.Rand, dst []float32) {
	switch s.dist {
	case Uniform:
		for j := range dst {
			dst[j] = float32(2*r.Float64() - 1)
		}
	case Normal:
		for j := range dst {
			dst[j] = float32(r.NormFloat64())
		}
	case Clustered:
		c := sort.SearchFloat64s(s.cum, r.Float64())
		c = min(c, len(s.cum)-1)
		centre := s.centres[c*s.dim : (c+1)*s.dim]
		for j := range dst {
			dst[j] = centre[j] + s.spread*float32(r.NormFloat64())
		}
	default:
		panic("vector: unknown distribution")
	}
}
