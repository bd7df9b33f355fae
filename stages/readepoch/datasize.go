package readepoch

import (
	"fmt"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

// Datasize computes the files a run needs under the rules: enough that
// the dataset is five times the clients' memory, and enough for 500 steps
// per accelerator; the larger wins. Files spread over one subfolder per
// 10,000 files.
func (t *task) Datasize(s stages.Sizing) stages.DatasetSize {
	l := t.train.layout
	fileBytes := l.SamplesPerFile * l.Dataset.RecordBytes
	totalMem := s.ClientMemoryBytes * int64(s.Clients)
	byMem := 5 * totalMem / fileBytes
	bySteps := 500 * int64(s.Accelerators) * t.spec.BatchSize / l.SamplesPerFile
	files := max(byMem, bySteps)
	var sub int64
	if files > 10000 {
		sub = (files + 9999) / 10000
	}
	d := stages.DatasetSize{
		Dataset: l.Name, FileBytes: fileBytes,
		FilesByMemory: byMem, FilesBySteps: bySteps, Files: files, Subfolders: sub,
		Bytes: files * fileBytes,
		Sets: []string{
			fmt.Sprintf("datasets.%s.files=%d", l.Name, files),
			fmt.Sprintf("datasets.%s.subfolders=%d", l.Name, sub),
			fmt.Sprintf("stages.%s.accelerators=%d", t.id, s.Accelerators),
		},
		Explain: []string{
			fmt.Sprintf("by memory: 5 × %d clients × %d bytes ÷ %d bytes per file = %d files",
				s.Clients, s.ClientMemoryBytes, fileBytes, byMem),
			fmt.Sprintf("by steps: 500 × %d accelerators × batch %d ÷ %d samples per file = %d files",
				s.Accelerators, t.spec.BatchSize, l.SamplesPerFile, bySteps),
		},
	}
	return d
}

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
	need := t.Datasize(stages.Sizing{ClientMemoryBytes: h.MemoryBytes, Clients: 1, Accelerators: t.spec.Accelerators})
	if l.Files < need.Files {
		out = append(out, fmt.Sprintf("dataset %s has %d files, fewer than the %d the rules require for this host and %d accelerators: see mlps datasize",
			l.Name, l.Files, need.Files, t.spec.Accelerators))
	}
	return out
}
