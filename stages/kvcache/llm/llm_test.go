package llm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The reference's table of bytes per token.
func TestBytesPerToken(t *testing.T) {
	want := map[string]int64{
		"tiny-1b":               24_576,
		"mistral-7b":            131_072,
		"llama2-7b":             524_288,
		"llama3.1-8b":           131_072,
		"llama3.1-70b-instruct": 327_680,
		"qwen3-32b":             262_144,
		"deepseek-v3":           70_272,
	}
	if len(Models) != len(want) {
		t.Errorf("%d models, want %d", len(Models), len(want))
	}
	for name, bpt := range want {
		m, err := LookupModel(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.BytesPerToken(); got != bpt {
			t.Errorf("%s: %d bytes per token, want %d", name, got, bpt)
		}
	}
	_, err := LookupModel("llama3-8b")
	if err == nil || !strings.Contains(err.Error(), `no model "llama3-8b"; the models are tiny-1b, mistral-7b,`) {
		t.Errorf("unknown model: %v", err)
	}
}

// A request's reads and writes follow the reference's formula: one read
// for a prefix hit, one per earlier turn, one write of context × bytes per
// token, and 1 + ceil(gen/32) reads of it.
func TestRequestIOs(t *testing.T) {
	const bpt = 131_072
	for _, tc := range []struct {
		req           Request
		reads, writes int
		readBytes     int64
	}{
		{Request{Context: 1000, Gen: 0}, 1, 1, 1000 * bpt},
		{Request{Context: 1000, Gen: 1}, 2, 1, 2 * 1000 * bpt},
		{Request{Context: 1000, Gen: 32}, 2, 1, 2 * 1000 * bpt},
		{Request{Context: 1000, Gen: 33}, 3, 1, 3 * 1000 * bpt},
		{Request{Context: 4096, Gen: 200}, 8, 1, 8 * 4096 * bpt},
		{Request{Context: 500, Gen: 64, PrefixTokens: 300}, 4, 1, 300*bpt + 3*500*bpt},
		{Request{Context: 500, Gen: 64, EarlierTokens: []int{100, 200, 300}}, 6, 1, 600*bpt + 3*500*bpt},
		{Request{Context: 500, Gen: 64, PrefixTokens: 50, EarlierTokens: []int{100}}, 5, 1, 150*bpt + 3*500*bpt},
	} {
		ios := tc.req.IOs(bpt, nil)
		var reads, writes int
		var readBytes int64
		for k, io := range ios {
			switch io.Kind {
			case Read:
				reads++
				readBytes += io.Bytes
				if io.Entry == Earlier && (io.Turn >= len(tc.req.EarlierTokens) || io.Bytes != int64(tc.req.EarlierTokens[io.Turn])*bpt) {
					t.Errorf("%+v: reads %d bytes of earlier turn %d", tc.req, io.Bytes, io.Turn)
				}
			case Write:
				writes++
				if io.Bytes != int64(tc.req.Context)*bpt || io.Entry != Own {
					t.Errorf("%+v: writes %d bytes of entry %d", tc.req, io.Bytes, io.Entry)
				}
				// Everything before the write reads older entries; everything
				// after, the new one.
				for _, o := range ios[:k] {
					if o.Entry == Own {
						t.Errorf("%+v: reads its own entry before writing it", tc.req)
					}
				}
				for _, o := range ios[k+1:] {
					if o.Entry != Own {
						t.Errorf("%+v: reads entry %d after the prefill", tc.req, o.Entry)
					}
				}
			}
		}
		if reads != tc.reads || writes != tc.writes || readBytes != tc.readBytes {
			t.Errorf("%+v: %d reads of %d bytes and %d writes; want %d of %d and %d",
				tc.req, reads, readBytes, writes, tc.reads, tc.readBytes, tc.writes)
		}
		if want := 1 + int(math.Ceil(float64(tc.req.Gen)/32)); DecodeReads(tc.req.Gen) != want {
			t.Errorf("DecodeReads(%d) = %d, want %d", tc.req.Gen, DecodeReads(tc.req.Gen), want)
		}
	}
}

// Users split over the classes by their shares and over the templates
// evenly, and draw lengths within the template's ranges; requests within
// [x/4, x] and think times within ±20%.
func TestUsers(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 0))
	const n = 60_000
	classes := make([]int, len(Classes))
	templates := map[string]int{}
	for range n {
		u := NewUser(r)
		classes[u.Class]++
		templates[u.Template.Name]++
		tp := u.Template
		if u.Context < tp.ContextMin || u.Context > tp.ContextMax || u.Gen < tp.GenMin || u.Gen > tp.GenMax ||
			u.Think < tp.ThinkMin || u.Think > tp.ThinkMax {
			t.Fatalf("user %+v outside its template", u)
		}
		turn := u.Draw(r)
		if turn.Context < u.Context/4 || turn.Context > u.Context || turn.Gen < u.Gen/4 || turn.Gen > u.Gen ||
			turn.Think < 0.8*u.Think || turn.Think > 1.2*u.Think {
			t.Fatalf("turn %+v of user %+v outside [x/4, x] and ±20%%", turn, u)
		}
	}
	for i, c := range Classes {
		if got := float64(classes[i]) / n; math.Abs(got-c.Share) > 0.01 {
			t.Errorf("class %s: %.3f of users, want %.2f", c.Name, got, c.Share)
		}
	}
	for _, tp := range Templates {
		if got := float64(templates[tp.Name]) / n; math.Abs(got-1.0/3) > 0.01 {
			t.Errorf("template %s: %.3f of users, want a third", tp.Name, got)
		}
	}
}

func TestGeneration(t *testing.T) {
	for g, want := range map[Generation]float64{GenerationNone: 0, GenerationFast: 0.002, GenerationRealistic: 0.030} {
		if got, err := g.PerToken(); err != nil || got != want {
			t.Errorf("%s: %g, %v; want %g", g, got, err, want)
		}
	}
	if _, err := Generation("slow").PerToken(); err == nil || err.Error() != `generation "slow"; want none, fast or realistic` {
		t.Errorf("unknown generation: %v", err)
	}
}
