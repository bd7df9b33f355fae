// Package llm holds the facts of LLM inference that the KV-cache stage
// emulates: how many bytes of key/value state a token of each model takes,
// the users' conversation templates and service classes, and the storage
// I/O that one request makes. It is pure: no storage, no clock.
package llm

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Model is an LLM's shape, as far as its KV cache is concerned.
type Model struct {
	Name string
	// Layers, KVHeads and HeadDim give the bytes per token of a model with
	// grouped-query attention: layers × kv_heads × head_dim × 2 (K and V)
	// × 2 bytes (fp16).
	Layers, KVHeads, HeadDim int
	// LatentDim, when not 0, is a multi-head latent attention model's
	// compressed KV width per layer (DeepSeek-V3: 512 + 64 rotary): one
	// latent vector per layer and token, layers × latent × 2 bytes.
	LatentDim int
}

// BytesPerToken is the KV-cache bytes one token takes in fp16.
func (m Model) BytesPerToken() int64 {
	if m.LatentDim > 0 {
		return int64(m.Layers) * int64(m.LatentDim) * 2
	}
	return int64(m.Layers) * int64(m.KVHeads) * int64(m.HeadDim) * 2 * 2
}

// Models are the models of MLPerf Storage's KV-cache benchmark, by name.
// Upstream's sizing table gives llama3.1-8b 4,096 bytes a token, 32 times
// less than its own model code computes; these are the computed sizes.
var Models = []Model{
	{Name: "tiny-1b", Layers: 12, KVHeads: 4, HeadDim: 128},
	{Name: "mistral-7b", Layers: 32, KVHeads: 8, HeadDim: 128},
	{Name: "llama2-7b", Layers: 32, KVHeads: 32, HeadDim: 128},
	{Name: "llama3.1-8b", Layers: 32, KVHeads: 8, HeadDim: 128},
	{Name: "llama3.1-70b-instruct", Layers: 80, KVHeads: 8, HeadDim: 128},
	{Name: "qwen3-32b", Layers: 64, KVHeads: 8, HeadDim: 128},
	{Name: "deepseek-v3", Layers: 61, LatentDim: 512 + 64},
}

// LookupModel returns the model called name, or an error that lists the
// names there are.
func LookupModel(name string) (Model, error) {
	for _, m := range Models {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("no model %q; the models are %s", name, strings.Join(ModelNames(), ", "))
}

// ModelNames lists the models' names in the table's order.
func ModelNames() []string {
	names := make([]string, len(Models))
	for i, m := range Models {
		names[i] = m.Name
	}
	return names
}

// Template is a kind of conversation. A user of the template draws its
// context and generation lengths and its think time once, uniformly from
// these ranges; each of its requests then varies them (Draw).
type Template struct {
	Name                   string
	ContextMin, ContextMax int     // tokens
	GenMin, GenMax         int     // tokens
	ThinkMin, ThinkMax     float64 // seconds
}

// Templates are the benchmark's three conversation templates; a user picks
// one uniformly.
var Templates = []Template{
	{Name: "chatbot", ContextMin: 512, ContextMax: 4096, GenMin: 50, GenMax: 200, ThinkMin: 0.1, ThinkMax: 0.5},
	{Name: "coding", ContextMin: 4096, ContextMax: 25000, GenMin: 100, GenMax: 500, ThinkMin: 0.2, ThinkMax: 1.0},
	{Name: "document", ContextMin: 4096, ContextMax: 16384, GenMin: 200, GenMax: 800, ThinkMin: 0.3, ThinkMax: 1.5},
}

// Class is a quality-of-service class: the share of users in it, its
// priority in the request queue and its latency targets.
type Class struct {
	Name string
	// Share is the fraction of users in the class.
	Share float64
	// Targets are the end-to-end latency targets in milliseconds at the
	// 95th, 99th, 99.9th and 99.99th percentiles.
	P95, P99, P999, P9999 float64
}

// Classes are the benchmark's QoS classes, highest priority first:
// requests queue by class, then by arrival.
var Classes = []Class{
	{Name: "interactive", Share: 0.15, P95: 50, P99: 100, P999: 150, P9999: 200},
	{Name: "responsive", Share: 0.35, P95: 100, P99: 200, P999: 350, P9999: 500},
	{Name: "batch", Share: 0.50, P95: 1000, P99: 5000, P999: 7500, P9999: 10000},
}

// User is one emulated user: its template, class and the lengths it drew.
type User struct {
	Template Template
	// Class indexes Classes.
	Class int
	// Context and Gen are the user's token counts, Think its think time in
	// seconds; each request varies them.
	Context, Gen int
	Think        float64
}

// NewUser draws a user from r: a template uniformly, a class by the
// classes' shares, then its lengths uniformly from the template's ranges.
func NewUser(r *rand.Rand) User {
	t := Templates[r.IntN(len(Templates))]
	c, x := len(Classes)-1, r.Float64()
	for i, cl := range Classes {
		if x < cl.Share {
			c = i
			break
		}
		x -= cl.Share
	}
	return User{
		Template: t, Class: c,
		Context: t.ContextMin + r.IntN(t.ContextMax-t.ContextMin+1),
		Gen:     t.GenMin + r.IntN(t.GenMax-t.GenMin+1),
		Think:   t.ThinkMin + r.Float64()*(t.ThinkMax-t.ThinkMin),
	}
}

// Turn is one request's lengths and the think time that follows it.
type Turn struct {
	Context, Gen int
	Think        float64
}

// Draw is a request of u: context uniform in [Context/4, Context], the
// generation in [Gen/4, Gen], the think time Think × U(0.8, 1.2).
func (u User) Draw(r *rand.Rand) Turn {
	lo, glo := max(1, u.Context/4), max(1, u.Gen/4)
	return Turn{
		Context: lo + r.IntN(u.Context-lo+1),
		Gen:     glo + r.IntN(u.Gen-glo+1),
		Think:   u.Think * (0.8 + 0.4*r.Float64()),
	}
}

// DecodeReadTokens is how many generated tokens one decode read of the
// entry serves: decode reads the whole entry once, then again every 32
// tokens.
const DecodeReadTokens = 32

// Generation is the emulated compute time per generated token.
type Generation string

const (
	GenerationNone      Generation = "none"      // 0
	GenerationFast      Generation = "fast"      // 2 ms
	GenerationRealistic Generation = "realistic" // 30 ms
)

// PerToken is g's time per generated token in seconds, or an error naming
// the choices.
func (g Generation) PerToken() (float64, error) {
	switch g {
	case GenerationNone:
		return 0, nil
	case GenerationFast:
		return 0.002, nil
	case GenerationRealistic:
		return 0.030, nil
	}
	return 0, fmt.Errorf("generation %q; want none, fast or realistic", string(g))
}

// IOKind is a request's storage operation.
type IOKind uint8

const (
	Read IOKind = iota
	Write
)

func (k IOKind) String() string {
	if k == Write {
		return "write"
	}
	return "read"
}

// IO is one operation of a request on one cache entry, whole.
type IO struct {
	Kind  IOKind
	Entry Source
	// Turn indexes Request.EarlierTokens when Entry is Earlier.
	Turn  int
	Bytes int64
}

// Source is which entry an IO is on.
type Source uint8

const (
	// Prefix is a shared prefix's entry found in the cache.
	Prefix Source = iota
	// Earlier is an earlier turn's entry of the same conversation.
	Earlier
	// Own is the entry the request's prefill writes.
	Own
)

// Request is what one request of a conversation touches.
type Request struct {
	// Context and Gen are its tokens.
	Context, Gen int
	// PrefixTokens, when > 0, is a shared prefix found in the cache: its
	// entry is read.
	PrefixTokens int
	// EarlierTokens are the contexts of the conversation's earlier turns,
	// whose entries a later turn reads, each once.
	EarlierTokens []int
}

// IOs returns req's storage operations in order for a model of bpt bytes
// per token: the prefix entry's read, each earlier turn's read, the
// prefill's write of one entry of Context tokens, then decode's reads of
// that entry, 1 + ceil(Gen / 32) of them.
func (req Request) IOs(bpt int64, dst []IO) []IO {
	if req.PrefixTokens > 0 {
		dst = append(dst, IO{Kind: Read, Entry: Prefix, Bytes: int64(req.PrefixTokens) * bpt})
	}
	for i, t := range req.EarlierTokens {
		dst = append(dst, IO{Kind: Read, Entry: Earlier, Turn: i, Bytes: int64(t) * bpt})
	}
	own := int64(req.Context) * bpt
	dst = append(dst, IO{Kind: Write, Entry: Own, Bytes: own})
	for range DecodeReads(req.Gen) {
		dst = append(dst, IO{Kind: Read, Entry: Own, Bytes: own})
	}
	return dst
}

// DecodeReads is the reads of a request's own entry while it generates
// gen tokens: 1 + ceil(gen / 32).
func DecodeReads(gen int) int {
	return 1 + (max(gen, 0)+DecodeReadTokens-1)/DecodeReadTokens
}
