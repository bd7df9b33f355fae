package readepoch

// permutation is a seeded bijection of [0, n) computed on demand: a
// balanced Feistel network over the smallest even number of bits that
// covers n, with cycle walking for the values beyond n. Shuffling an
// accelerator's block of millions of samples (billions for dlrm) then
// costs a few words instead of a slice per rank.
type permutation struct {
	n     uint64
	half  uint   // bits per Feistel half
	mask  uint64 // half's mask
	keys  [4]uint64
	ident bool
}

// newPermutation returns the permutation of [0, n) for key; with off it is
// the identity.
func newPermutation(n uint64, key uint64, off bool) permutation {
	p := permutation{n: n, ident: off || n < 2}
	bits := uint(1)
	for uint64(1)<<(2*bits) < n {
		bits++
	}
	p.half = bits
	p.mask = 1<<bits - 1
	for i := range p.keys {
		key = mix64(key + 0x9e3779b97f4a7c15)
		p.keys[i] = key
	}
	return p
}

// at returns the element at position i (i < n).
func (p permutation) at(i uint64) uint64 {
	if p.ident {
		return i
	}
	// The domain is at most 4n, so the expected number of walks is below
	// four and a walk always ends: the Feistel network is a bijection on
	// its domain, so following it from i returns into [0, n).
	for {
		i = p.feistel(i)
		if i < p.n {
			return i
		}
	}
}

func (p permutation) feistel(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(mix64(r^k)&p.mask)
	}
	return l<<p.half | r
}

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
