package checkpoint

import (
	"encoding/json"
	"strings"
	"testing"

	"mlps.dev/mlps/stages/internal/ckpt"
)

// The lead takes each process's rank results of a save or load only as
// its share of the ranks: 8 ranks over 3 processes are 0-1, 2-4, 5-7.
func TestGathered(t *testing.T) {
	tk := &task{ranks: 8}
	part := func(ranks ...int64) json.RawMessage {
		var rs []ckpt.RankResult
		for _, r := range ranks {
			rs = append(rs, ckpt.RankResult{Phase: "save", Checkpoint: 1, Rank: r, Bytes: 10})
		}
		b, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name  string
		parts []json.RawMessage
		want  string
	}{
		{"every share", []json.RawMessage{part(0, 1), part(2, 3, 4), part(5, 6, 7)}, ""},
		{"a rank short", []json.RawMessage{part(0, 1), part(2, 3), part(5, 6, 7)}, "process 1 sent 2 ranks' results, its share is 3"},
		{"another's rank", []json.RawMessage{part(0, 1), part(2, 3, 5), part(5, 6, 7)}, "process 1 sent rank 5's results where its share has rank 4"},
		{"not results", []json.RawMessage{part(0, 1), json.RawMessage(`{"rank": 2}`), part(5, 6, 7)}, "process 1's ranks: json: cannot unmarshal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all, err := tk.gathered(tt.parts)
			if tt.want == "" {
				if err != nil || len(all) != 8 || ckpt.Phase(all).Bytes != 80 {
					t.Errorf("%d ranks, %v", len(all), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
