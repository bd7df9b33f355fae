package readepoch

import (
	"fmt"
	"math/big"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/measure"
)

// Datasize computes the files a run needs under the rules: enough that
// the dataset is five times the clients' memory, and enough for 500 steps
// per accelerator; the larger wins. Files spread over one subfolder per
// 10,000 files. The products are taken without bounds, so a system too
// large for any dataset the schema allows is an error, not a wrapped
// number.
func (t *task) Datasize(s stages.Sizing) (stages.DatasetSize, error) {
	l := t.train.layout
	fileBytes, byMem, bySteps := MinimumFiles(MemoryFactor, Steps, s, t.spec.BatchSize, l.SamplesPerFile, l.Dataset.RecordBytes)
	files := byMem
	if bySteps.Cmp(byMem) > 0 {
		files = bySteps
	}
	bytes := new(big.Int).Mul(files, fileBytes)
	if !files.IsInt64() || files.Int64() > maxFiles || !bytes.IsInt64() || bytes.Int64() > dataset.MaxBytes {
		return stages.DatasetSize{}, fmt.Errorf("dataset %s would need %s files of %s bytes (by memory %s, by steps %s), more than a dataset can hold (%d files, 1 EiB): check --client-memory-gib, --clients and --accelerators",
			l.Name, files, fileBytes, byMem, bySteps, int64(maxFiles))
	}
	nf, fb := files.Int64(), fileBytes.Int64()
	var sub int64
	if nf > 10000 {
		sub = (nf + 9999) / 10000
	}
	d := stages.DatasetSize{
		Dataset: l.Name, FileBytes: fb,
		FilesByMemory: byMem.Int64(), FilesBySteps: bySteps.Int64(), Files: nf, Subfolders: sub,
		Bytes: bytes.Int64(),
		Sets: []string{
			fmt.Sprintf("datasets.%s.files=%d", l.Name, nf),
			fmt.Sprintf("datasets.%s.subfolders=%d", l.Name, sub),
			fmt.Sprintf("stages.%s.accelerators=%d", t.id, s.Accelerators),
		},
		Explain: []string{
			fmt.Sprintf("by memory: %d × %d clients × %d bytes ÷ %d bytes per file = %d files",
				MemoryFactor, s.Clients, s.ClientMemoryBytes, fb, byMem.Int64()),
			fmt.Sprintf("by steps: %d × %d accelerators × batch %d ÷ %d samples per file = %d files",
				Steps, s.Accelerators, t.spec.BatchSize, l.SamplesPerFile, bySteps.Int64()),
		},
	}
	return d, nil
}

// The rules' datasize factors, as `mlps datasize` sizes a dataset; mlps
// validate reads them from the edition and checks them equal.
const (
	MemoryFactor = 5
	Steps        = 500
)

// MinimumFiles is the rules' datasize minimum, in files, both ways: by
// memory (memoryFactor × the clients' memory ÷ the bytes of a file) and
// by steps (steps × accelerators × batch ÷ samples per file), with the
// bytes of a file. The products are exact: a system too large for any
// dataset gives a large number, never a wrapped one.
func MinimumFiles(memoryFactor, steps int64, s stages.Sizing, batch, samplesPerFile, recordBytes int64) (fileBytes, byMem, bySteps *big.Int) {
	n := func(v int64) *big.Int { return new(big.Int).SetInt64(v) }
	fileBytes = new(big.Int).Mul(n(samplesPerFile), n(recordBytes))
	byMem = new(big.Int).Mul(n(memoryFactor), n(s.ClientMemoryBytes))
	byMem.Mul(byMem, n(int64(s.Clients)))
	if fileBytes.Sign() > 0 {
		byMem.Quo(byMem, fileBytes)
	}
	bySteps = new(big.Int).Mul(n(steps), n(int64(s.Accelerators)))
	bySteps.Mul(bySteps, n(batch))
	if samplesPerFile > 0 {
		bySteps.Quo(bySteps, n(samplesPerFile))
	}
	return fileBytes, byMem, bySteps
}

// maxFiles is the schema's bound on a dataset's files.
const maxFiles = 1 << 40

// Warnings flags a dataset that the host's page cache could hold (DLIO's
// potential_caching), when it is read through a target the page cache
// serves, and one with fewer files than the rules require for
// this host's memory and this stage's accelerators.
func (t *task) Warnings(h stages.Host) []string {
	var out []string
	l := t.train.layout
	if h.MemoryBytes <= 0 {
		return nil
	}
	if data := l.TotalBytes(); t.pageCache && data <= h.MemoryBytes {
		out = append(out, fmt.Sprintf("dataset %s (%s) fits in this host's memory (%s): reads may come from the page cache (potential_caching)",
			l.Name, measure.IEC(data), measure.IEC(h.MemoryBytes)))
	}
	need, err := t.Datasize(stages.Sizing{ClientMemoryBytes: h.MemoryBytes, Clients: 1, Accelerators: t.spec.Accelerators})
	if err == nil && l.Files < need.Files {
		out = append(out, fmt.Sprintf("dataset %s has %d files, fewer than the %d the rules require for this host and %d accelerators: see mlps datasize",
			l.Name, l.Files, need.Files, t.spec.Accelerators))
	}
	return out
}
