package ivf

// StoredBytes is what an index of n vectors of dimension dim in nlist
// lists stores: every list object and the index object. It depends on n
// and nlist only, not on how the vectors fall into the lists, so a plan
// knows it before the build.
func StoredBytes(n int64, nlist, dim int) int64 {
	return int64(nlist)*listHeader + n*(8+4*int64(dim)) + indexBytes(nlist, dim)
}
