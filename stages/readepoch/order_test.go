package readepoch

import (
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/dataset"
)

// Every rank reads each sample of its block exactly once per epoch, in an
// order that the shuffles change from epoch to epoch and keep from run to
// run.
func TestOrderCoversBlock(t *testing.T) {
	l, err := dataset.New("d", dsl.Dataset{Format: "npz", Files: 30, SamplesPerFile: 4, RecordBytes: 10, Prefix: "img"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		file, sample  bool
		window        int64
		wantUnchanged bool
	}{
		{"off", false, false, 0, true},
		{"file", true, false, 0, false},
		{"sample", false, true, 0, false},
		{"both", true, true, 0, false},
		{"window", false, true, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph := newPhase("train", l, 5, 3, Compute{})
			ph.fileShuffle, ph.sampleShuffle, ph.window = tt.file, tt.sample, tt.window
			seen := map[int64]int{}
			for rank := range 3 {
				var orders [2][]int64
				for epoch := range 2 {
					o := ph.order(shuffleKey(1, epoch, rank), rank)
					again := ph.order(shuffleKey(1, epoch, rank), rank)
					for p := range ph.share {
						s := o.sample(p)
						if s != again.sample(p) {
							t.Fatalf("rank %d epoch %d: position %d differs between two orders of the same key", rank, epoch, p)
						}
						orders[epoch] = append(orders[epoch], s)
						if epoch == 0 {
							seen[s]++
						}
					}
				}
				unchanged := true
				for p, s := range orders[0] {
					unchanged = unchanged && s == orders[1][p] && s == int64(rank)*ph.share+int64(p)
				}
				if unchanged != tt.wantUnchanged {
					t.Errorf("rank %d: order unchanged across epochs and unshuffled = %v, want %v", rank, unchanged, tt.wantUnchanged)
				}
			}
			// 120 samples, 3 ranks of 40: together the blocks are the dataset.
			if len(seen) != 120 {
				t.Errorf("%d distinct samples read, want 120", len(seen))
			}
			for s, n := range seen {
				if n != 1 {
					t.Errorf("sample %d read %d times", s, n)
				}
			}
		})
	}
}
