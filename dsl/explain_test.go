package dsl

import "testing"

func TestSuggest(t *testing.T) {
	fields := []string{"accelerators", "computation_time", "epochs", "workers"}
	tests := []struct{ name, want string }{
		{"epoch", "; did you mean epochs?"},
		{"wokers", "; did you mean workers?"},
		{"epcohs", "; did you mean epochs?"},
		{"zzz", " (allowed: accelerators, computation_time, epochs, workers)"},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, fields); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"trian", "train", 1}, {"epoch", "epochs", 1}, {"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// posIn places errors the decoders give as line numbers, including in an
// empty file, which has a line 1.
func TestPosIn(t *testing.T) {
	tests := []struct {
		data      string
		line, col int
		want      string
	}{
		{"", 1, 1, "f:1:1"},
		{"a: 1\nb: [\n", 2, 1, "f:2:1"},
		{"a: 1\nb: *x\n", 2, 4, "f:2:4"},
		{"a", 9, 1, "f:1:1"}, // past the end: the last line
	}
	for _, tt := range tests {
		if got := posString(posIn("f", []byte(tt.data), tt.line, tt.col)); got != tt.want {
			t.Errorf("posIn(%q, %d, %d) = %s, want %s", tt.data, tt.line, tt.col, got, tt.want)
		}
	}
}
