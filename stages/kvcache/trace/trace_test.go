package trace

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestReadConversations(t *testing.T) {
	f, err := os.Open("../../../testdata/kvcache/sharegpt.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := ReadConversations(f, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The sample's conversations: two turns; one (a trailing human turn
	// dropped); a system message skipped, one turn of a long prompt capped.
	want := [][]Turn{
		{{Context: 5, Gen: 12}, {Context: 3, Gen: 1}},
		{{Context: 1, Gen: 6}},
		{{Context: ContextCap, Gen: 2}},
	}
	if len(cs) != len(want) {
		t.Fatalf("%d conversations %v, want %d", len(cs), cs, len(want))
	}
	for i := range want {
		if len(cs[i]) != len(want[i]) {
			t.Fatalf("conversation %d: %v, want %v", i, cs[i], want[i])
		}
		for j := range want[i] {
			if cs[i][j] != want[i][j] {
				t.Errorf("conversation %d turn %d: %+v, want %+v", i, j, cs[i][j], want[i][j])
			}
		}
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if cs, err := ReadConversations(f, 1); err != nil || len(cs) != 1 {
		t.Errorf("max 1: %d conversations, %v", len(cs), err)
	}
}

func TestArrivals(t *testing.T) {
	f, err := os.Open("../../../testdata/kvcache/burstgpt.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := NewArrivals(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []Arrival
	for {
		x, err := a.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	// The failed request (0 request tokens) is skipped; times count from
	// the first row.
	want := []Arrival{{0, 472, 18}, {1, 1087, 249}, {1, 84, 1}, {4.5, 16384, 2048}}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestArrivalErrors(t *testing.T) {
	for _, tt := range []struct{ csv, want string }{
		{"Time,Request tokens,Response tokens\n", `line 1: no "Timestamp" column`},
		{"Timestamp,Request tokens,Response tokens\n", "no requests after the header"},
		{"Timestamp,Request tokens,Response tokens\n5,10,10\n4,10,10\n", "line 3: timestamp 4 is before the one above it, 5"},
		{"Timestamp,Request tokens,Response tokens\n5,ten,10\n", `line 2: "ten" is not a number of 0 or more`},
		{"Timestamp,Request tokens,Response tokens\n5,10\n", "line 2: 2 fields, no column 3"},
	} {
		a, err := NewArrivals(strings.NewReader(tt.csv))
		for err == nil {
			_, err = a.Next()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.csv, err, tt.want)
		}
	}
}

// FuzzConversations: any input gives conversations of capped, positive
// token counts, or an error; never a panic.
func FuzzConversations(f *testing.F) {
	f.Add(`[{"conversations": [{"from": "human", "value": "hello there"}, {"from": "gpt", "value": "hi"}]}]`)
	f.Add(`[]`)
	f.Add(`{"a": 1}`)
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ReadConversations(strings.NewReader(s), 10)
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, tr := range c {
				if tr.Context < 1 || tr.Context > ContextCap || tr.Gen < 1 || tr.Gen > GenCap {
					t.Fatalf("turn %+v", tr)
				}
			}
		}
	})
}

// FuzzArrivals: any input gives arrivals in order of time with capped,
// positive token counts, or an error; never a panic.
func FuzzArrivals(f *testing.F) {
	f.Add("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n0,ChatGPT,472,18,490,Conversation log\n1,GPT-4,0,0,0,Conversation log\n")
	f.Add("Timestamp,Request tokens,Response tokens\n1e308,1e308,-1\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := NewArrivals(strings.NewReader(s))
		if err != nil {
			return
		}
		last := 0.0
		for range 1000 {
			x, err := a.Next()
			if err != nil {
				return
			}
			if x.At < last || x.Context < 1 || x.Context > ContextCap || x.Gen < 1 || x.Gen > GenCap {
				t.Fatalf("%+v after %g", x, last)
			}
			last = x.At
		}
	})
}
