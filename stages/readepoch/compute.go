package readepoch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Compute mirrors the schema's computation_time: a constant number of
// seconds, or a #Distribution.
type Compute struct {
	Type  string   `json:"type"`
	Mean  float64  `json:"mean"`
	Stdev float64  `json:"stdev"`
	Min   float64  `json:"min"`
	Max   *float64 `json:"max,omitempty"`
}

// UnmarshalJSON accepts a bare number as a constant.
func (c *Compute) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] != '{' {
		var v float64
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*c = Compute{Type: "constant", Mean: v}
		return nil
	}
	type plain Compute
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode((*plain)(c))
}

// MarshalJSON writes a constant back as a number.
func (c Compute) MarshalJSON() ([]byte, error) {
	if c.Type == "constant" || c.Type == "" {
		return json.Marshal(c.Mean)
	}
	type plain Compute
	return json.Marshal(plain(c))
}

func (c Compute) String() string {
	if c.Type == "constant" || c.Type == "" {
		return fmt.Sprintf("%gs", c.Mean)
	}
	return fmt.Sprintf("%s(mean %gs, stdev %gs)", c.Type, c.Mean, c.Stdev)
}

// sampler draws compute times for one rank in one epoch. Each rank draws
// from its own stream (seed, rank, epoch), so the draws do not depend on
// how the ranks' goroutines interleave.
type sampler struct {
	c Compute
	r *rand.Rand
}

func (c Compute) sampler(seed uint64, rank, epoch int) *sampler {
	return &sampler{c: c, r: rand.New(rand.NewPCG(seed^0x636f6d70757465, uint64(rank)<<32|uint64(epoch)))}
}

// next returns the next step's compute time.
func (s *sampler) next() time.Duration {
	c := s.c
	v := c.Mean
	if c.Stdev > 0 && c.Mean > 0 {
		switch c.Type {
		case "normal":
			v = c.Mean + c.Stdev*s.r.NormFloat64()
		case "uniform":
			h := c.Stdev * math.Sqrt(3)
			v = c.Mean - h + 2*h*s.r.Float64()
		case "gamma":
			v = gamma(s.r, c.Mean*c.Mean/(c.Stdev*c.Stdev)) * c.Stdev * c.Stdev / c.Mean
		case "poisson":
			unit := c.Stdev * c.Stdev / c.Mean
			v = unit * float64(poisson(s.r, c.Mean/unit))
		}
	}
	if c.Type == "exponential" && c.Mean > 0 {
		v = c.Mean * s.r.ExpFloat64()
	}
	v = math.Max(v, c.Min)
	if c.Max != nil {
		v = math.Min(v, *c.Max)
	}
	return time.Duration(v * float64(time.Second))
}

// gamma draws from Gamma(k, 1) by Marsaglia and Tsang's method, boosted
// for k < 1.
func gamma(r *rand.Rand, k float64) float64 {
	if k < 1 {
		return gamma(r, k+1) * math.Pow(r.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// poisson draws a Poisson count with mean lambda: by multiplication of
// uniforms for small lambda, by a rounded normal approximation above 500
// where the two are indistinguishable at the precision of a sleep.
func poisson(r *rand.Rand, lambda float64) int64 {
	if lambda > 500 {
		return max(0, int64(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l := math.Exp(-lambda)
	var k int64
	for p := r.Float64(); p > l; p *= r.Float64() {
		k++
	}
	return k
}
