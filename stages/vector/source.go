package vector

import (
	"fmt"
	"math"
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
	// 1/(c+1)), then the vector from a Gaussian around its centre whose
	// variance falls off over its directions, as real embeddings crowd
	// around topics of unequal size and vary along few directions (see
	// NewSource).
	Clustered
)

// DefaultClusters is the number of clusters of a Clustered source when a
// workload does not say. Under zipf weights the largest of 1024 clusters
// holds 13 % of a collection and the smallest 0.013 %: 13 vectors of
// 100,000, about a query's k, so that queries in the tail have neighbours
// in other clusters; and the clusters are about as many as an IVF index's
// default lists there (4√N = 1265), which must split the large ones.
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
	scale   []float32 // each component's standard deviation around a centre
}

// streams keep the collection, the queries and the centres apart.
const (
	streamCollection = iota
	streamQueries
	streamCentres
)

// The shape of a Clustered collection; see NewSource. Measured at
// 100,000 × 128 with 1024 clusters, 200 queries, by the maximum-likelihood
// local intrinsic dimension (LID) of the 20 nearest and the relative
// contrast (RC: mean distance to any vector over distance to the
// nearest; lower is harder). Real embeddings and descriptors have LIDs of
// about 10 to 40 (SIFT's is about 20); Normal's is 65 here:
//
//	decay 0.5, 1, 1.5:          LID 35, 23, 14 whatever the spread
//	spread 0.2, 0.5, 0.7, 1.0:  RC 7.1, 3.1, 2.5, 2.0 (decay 1)
//	isotropic, spread 0.25 (mlps's first Clustered): LID 40, RC 4.8
//
// Up to spread 0.7 a query's 10 nearest all lie in its own cluster; at
// 1.0 1.2 % lie in others, as clusters begin to overlap.
const (
	// clusterSpread is a cluster's RMS radius over its centre's: each
	// centre is about √dim from the origin and √(2·dim) from the others,
	// so at 0.7 a cluster's radius is half the distance between centres.
	// Tighter clusters are easier (a query's neighbours stand far out of
	// the crowd) without changing the task's shape; looser ones run into
	// each other and tend to one Gaussian, Normal's noise.
	clusterSpread = 0.7
	// spectrumDecay is the power law of the variances along a cluster's
	// directions: the r-th largest is (r+1)^−spectrumDecay of the
	// largest, which gives about SIFT's intrinsic dimension.
	spectrumDecay = 1.0
)

// NewSource returns the source of dim-dimensional vectors drawn from dist
// (with clusters centres when Clustered, DefaultClusters if clusters ≤ 0)
// under seed.
//
// Clustered models a collection of embeddings. Vectors crowd around topics
// of unequal size: a vector's cluster is drawn with zipf weights (cluster c
// has weight 1/(c+1), so with 1024 clusters the largest holds 13 % of the
// collection and the smallest 0.013 %). Around its centre (components
// N(0, 1)) a vector varies much more along some directions than others, as
// an embedding's variance concentrates in a few principal components: the
// variance of component j follows a power law over a seeded permutation of
// the components, so that the collection's intrinsic dimension is far
// below dim (as in real embeddings, and unlike Normal, whose nearest
// neighbours are barely nearer than the rest) and no run of adjacent
// components, which a product quantiser groups, holds all of it.
func NewSource(dim int, dist Distribution, clusters int, seed uint64) *Source {
	s := &Source{dim: dim, dist: dist, seed: seed}
	if dist == Clustered {
		if clusters <= 0 {
			clusters = DefaultClusters
		}
		r := s.rng(streamCentres, 0)
		s.centres = make([]float32, clusters*dim)
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
		s.scale = spectrum(dim, clusterSpread, spectrumDecay, r.Perm(dim))
	}
	return s
}

// spectrum is the standard deviation of each component: variances
// (r+1)^−decay for the r-th component of perm, scaled so that their sum
// is (spread²·dim): a cluster's RMS radius is spread·√dim.
func spectrum(dim int, spread, decay float64, perm []int) []float32 {
	v := make([]float64, dim)
	sum := 0.0
	for r := range v {
		v[r] = math.Pow(float64(r+1), -decay)
		sum += v[r]
	}
	scale := make([]float32, dim)
	for r, j := range perm {
		scale[j] = float32(math.Sqrt(v[r] / sum * spread * spread * float64(dim)))
	}
	return scale
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
		c := s.cluster(r)
		centre := s.centres[c*s.dim : (c+1)*s.dim]
		for j := range dst {
			dst[j] = centre[j] + s.scale[j]*float32(r.NormFloat64())
		}
	default:
		panic("vector: unknown distribution")
	}
}

// cluster draws a vector's cluster, its generator's first draw.
func (s *Source) cluster(r *rand.Rand) int {
	return min(sort.SearchFloat64s(s.cum, r.Float64()), len(s.cum)-1)
}
