// Package trace reads the two traces the KV-cache stage replays: ShareGPT
// conversations (a JSON array of conversations, each a list of human and
// gpt turns) for what users ask and how long the answers are, and BurstGPT
// request logs (CSV with Timestamp, Request tokens and Response tokens
// columns) for when requests arrive. Both are read as streams: a
// conversation file keeps at most the conversations asked for, as token
// counts, and an arrival file is read a row at a time while the run goes,
// so that memory never grows with a trace's size.
package trace

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContextCap and GenCap bound a turn's tokens, as upstream caps them.
const (
	ContextCap = 16384
	GenCap     = 2048
)

// Turn is one request of a conversation: the tokens of the prompt and of
// the answer.
type Turn struct {
	Context, Gen int
}

// Tokens estimates the tokens of s without a tokenizer: a token per four
// characters, at least one.
func Tokens(s string) int {
	return max(1, utf8.RuneCountInString(s)/4)
}

// ReadConversations reads at most max conversations of a ShareGPT file:
// each human turn and the gpt turn that answers it make a Turn, capped at
// ContextCap and GenCap; a human turn without an answer is dropped, and a
// conversation without a complete turn is skipped. Errors name the byte
// offset of the bad value.
func ReadConversations(r io.Reader, max int) ([][]Turn, error) {
	d := json.NewDecoder(bufio.NewReader(r))
	if err := expectDelim(d, '['); err != nil {
		return nil, err
	}
	var out [][]Turn
	for d.More() && len(out) < max {
		var c struct {
			Conversations []struct {
				From  string `json:"from"`
				Value string `json:"value"`
			} `json:"conversations"`
		}
		off := d.InputOffset()
		if err := d.Decode(&c); err != nil {
			return nil, fmt.Errorf("conversation at byte %d: %w (want {\"conversations\": [{\"from\": \"human\" or \"gpt\", \"value\": text}, ...]})", off, err)
		}
		var turns []Turn
		prompt := -1
		for _, m := range c.Conversations {
			switch m.From {
			case "human", "user":
				prompt = min(Tokens(m.Value), ContextCap)
			case "gpt", "assistant", "chatgpt", "bard", "bing":
				if prompt >= 0 {
					turns = append(turns, Turn{Context: prompt, Gen: min(Tokens(m.Value), GenCap)})
					prompt = -1
				}
			}
		}
		if len(turns) > 0 {
			out = append(out, turns)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no conversation with a human turn answered by gpt")
	}
	return out, nil
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("want a JSON array of conversations: %w", err)
	}
	if tok != want {
		return fmt.Errorf("want a JSON array of conversations, not %v", tok)
	}
	return nil
}

// Arrival is one request of an arrival trace: when it comes, in seconds
// from the trace's first, and its tokens.
type Arrival struct {
	At           float64
	Context, Gen int
}

// Arrivals reads a BurstGPT CSV a row at a time.
type Arrivals struct {
	r     *csv.Reader
	cols  [3]int // Timestamp, Request tokens, Response tokens
	first float64
	last  float64
	rows  int
}

// NewArrivals reads the header of a BurstGPT CSV: it needs the columns
// Timestamp, Request tokens and Response tokens, in any order, among
// others.
func NewArrivals(r io.Reader) (*Arrivals, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	a := &Arrivals{r: cr, cols: [3]int{-1, -1, -1}, first: math.NaN()}
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "Timestamp":
			a.cols[0] = i
		case "Request tokens":
			a.cols[1] = i
		case "Response tokens":
			a.cols[2] = i
		}
	}
	for i, name := range []string{"Timestamp", "Request tokens", "Response tokens"} {
		if a.cols[i] < 0 {
			return nil, fmt.Errorf("line 1: no %q column; a BurstGPT trace has Timestamp, Request tokens and Response tokens", name)
		}
	}
	return a, nil
}

// Next returns the next request, or io.EOF after the last. Timestamps
// must not decrease; token counts are capped at ContextCap and GenCap, and
// a row of 0 request tokens (a failed request in BurstGPT) is skipped.
func (a *Arrivals) Next() (Arrival, error) {
	for {
		rec, err := a.r.Read()
		if err == io.EOF {
			if a.rows == 0 {
				return Arrival{}, errors.New("no requests after the header")
			}
			return Arrival{}, io.EOF
		}
		if err != nil {
			return Arrival{}, err
		}
		line, _ := a.r.FieldPos(0)
		var v [3]float64
		for i, c := range a.cols {
			if c >= len(rec) {
				return Arrival{}, fmt.Errorf("line %d: %d fields, no column %d", line, len(rec), c+1)
			}
			v[i], err = strconv.ParseFloat(strings.TrimSpace(rec[c]), 64)
			if err != nil || math.IsNaN(v[i]) || math.IsInf(v[i], 0) || v[i] < 0 {
				return Arrival{}, fmt.Errorf("line %d: %q is not a number of 0 or more", line, rec[c])
			}
		}
		if math.IsNaN(a.first) {
			a.first, a.last = v[0], v[0]
		}
		if v[0] < a.last {
			return Arrival{}, fmt.Errorf("line %d: timestamp %g is before the one above it, %g; the trace must be in order of time", line, v[0], a.last)
		}
		a.last = v[0]
		if v[1] < 1 {
			continue
		}
		a.rows++
		return Arrival{At: v[0] - a.first, Context: int(min(v[1], ContextCap)), Gen: int(max(1, min(v[2], GenCap)))}, nil
	}
}
