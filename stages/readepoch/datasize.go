package readepoch

import (
	"fmt"

	"mlps.dev/mlps/stages"
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
