package ckpt

import (
	"fmt"
)

// Model is the shape of a decoder-only transformer, as the checkpoint
// reference describes llama3: enough to size every tensor it saves.
type Model struct {
	Name    string `json:"name,omitempty"`
	Layers  int64  `json:"layers"`
	Hidden  int64  `json:"hidden"`
	FFN     int64  `json:"ffn"`
	Heads   int64  `json:"heads"`
	KVHeads int64  `json:"kv_heads"`
	Vocab   int64  `json:"vocab"`
	// ModelDatatype is the type of the weights, OptimizerDatatype that of
	// the optimizer state ("fp16", "bf16", "fp32", "fp64", "int8", "uint8").
	ModelDatatype     string `json:"model_datatype"`
	OptimizerDatatype string `json:"optimizer_datatype"`
}

// Parallelism is how the model is spread over ranks: TP × PP ranks hold
// one replica, DP replicas train side by side, and ZeRO shards state over
// the replicas (1 and 2: the optimizer; 3: the weights too).
type Parallelism struct {
	Tensor   int64 `json:"tensor"`
	Pipeline int64 `json:"pipeline"`
	Data     int64 `json:"data"`
	Zero     int   `json:"zero"`
}

// Ranks is the number of processes of a full run: TP × PP × DP.
func (p Parallelism) Ranks() int64 { return p.Tensor * p.Pipeline * p.Data }

// DatatypeBytes is the size of one element of a datatype, 0 for an
// unknown one.
func DatatypeBytes(t string) int64 {
	switch t {
	case "int8", "uint8":
		return 1
	case "fp16", "bf16":
		return 2
	case "fp32":
		return 4
	case "fp64":
		return 8
	}
	return 0
}

// dkv is the width of the K and V projections: head size × KV heads.
func (m Model) dkv() int64 { return m.Hidden / m.Heads * m.KVHeads }

// layerParams is the parameter count of one transformer layer: input norm,
// QKV, the attention output, post-attention norm, and the gated MLP's
// h→2·ffn and ffn→h.
func (m Model) layerParams() int64 {
	h, f := m.Hidden, m.FFN
	return h + h*(h+2*m.dkv()) + h*h + h + 2*f*h + f*h
}

// Parameters is P of the reference: embedding, the layers, the final norm
// and the output head (not tied to the embedding).
func (m Model) Parameters() int64 {
	return m.Vocab*m.Hidden + m.Layers*m.layerParams() + m.Hidden + m.Vocab*m.Hidden
}

// Tensor is one tensor a rank saves: its name within the file and its
// size in bytes.
type Tensor struct {
	Name  string
	Bytes int64
}

// File is one file (or object) a rank writes per checkpoint: its name
// relative to the checkpoint's directory, and its tensors in order.
type File struct {
	Name    string
	Tensors []Tensor
}

// Bytes is the file's size: its tensors back to back.
func (f File) Bytes() int64 {
	var n int64
	for _, t := range f.Tensors {
		n += t.Bytes
	}
	return n
}

// Sizing answers, for a model and its parallelism, what every rank saves.
// It is cheap to make and holds no per-rank state, so a plan of 1,024
// ranks costs nothing until a rank's files are asked for.
type Sizing struct {
	Model Model
	Par   Parallelism
}

// Coordinates of a rank, as Megatron-DeepSpeed numbers them: tensor
// parallel fastest, then pipeline stage, then data-parallel replica.
func (s Sizing) coords(rank int64) (tp, pp, dp, mp int64) {
	t, p := s.Par.Tensor, s.Par.Pipeline
	return rank % t, (rank / t) % p, rank / (t * p), rank % (t * p)
}

// layerRange is the inclusive range of layer indices pipeline stage pp
// holds. Index 0 is the embedding, 1..L the transformer layers, L+1 the
// output head and L+2 the final norm; the first stage also holds the
// embedding and the last the head and norm, and the layers are dealt out
// with the first L mod PP stages holding one more.
func (s Sizing) layerRange(pp int64) (first, last int64) {
	l, p := s.Model.Layers, s.Par.Pipeline
	per, rem := l/p, l%p
	if pp < rem {
		first = pp*(per+1) + 1
		last = first + per
	} else {
		first = rem*(per+1) + (pp-rem)*per + 1
		last = first + per - 1
	}
	if pp == p-1 {
		last = l + 2
	}
	if pp == 0 {
		first = 0
	}
	return first, last
}

// layerTensors returns the element counts of layer index i's tensors on
// one rank: split over TP, and over DP under ZeRO-3.
func (s Sizing) layerTensors(i int64) []Tensor {
	m := s.Model
	h, f, tp := m.Hidden, m.FFN, s.Par.Tensor
	sh := int64(1)
	if s.Par.Zero == 3 {
		sh = s.Par.Data
	}
	b := DatatypeBytes(m.ModelDatatype)
	switch {
	case i == 0:
		return []Tensor{{"embedding", h * m.Vocab / tp / sh * b}}
	case i == m.Layers+1:
		return []Tensor{{"lm_head", h * m.Vocab / tp / sh * b}}
	case i == m.Layers+2:
		return []Tensor{{"final_norm", h / sh * b}}
	}
	return []Tensor{
		{"input_norm", h / sh * b},
		{"qkv", h * (h + 2*m.dkv()) / tp / sh * b},
		{"attn_out", h * h / tp / sh * b},
		{"post_attn_norm", h / sh * b},
		{"mlp_h_to_2ffn", h * 2 * f / tp / sh * b},
		{"mlp_ffn_to_h", h * f / tp / sh * b},
	}
}

// optimizerTensors is what one rank's optimizer file holds: fp32 master
// weights and the two Adam moments of its share of the parameters, each
// with a small per-group tail (5h elements), as Megatron-DeepSpeed's
// flattened groups have. Without ZeRO the first replica saves it all,
// split over TP × PP.
func (s Sizing) optimizerTensors() []Tensor {
	p := s.Model.Parameters()
	if s.Par.Zero > 0 {
		p /= s.Par.Ranks()
	} else {
		p /= s.Par.Tensor * s.Par.Pipeline
	}
	b := DatatypeBytes(s.Model.OptimizerDatatype)
	h5 := 5 * s.Model.Hidden * b
	return []Tensor{
		{"fp32_weights", p * b}, {"fp32_weights_tail", h5},
		{"exp_avg", p * b}, {"exp_avg_tail", h5},
		{"exp_avg_sq", p * b}, {"exp_avg_sq_tail", h5},
	}
}

// Files returns what rank saves per checkpoint, under the names
// Megatron-DeepSpeed gives them:
//
//   - the optimizer: zero_pp_rank_{dp}_mp_rank_{mp}_optim_states.pt, from
//     every rank under ZeRO, from the first replica without it;
//   - the weights under ZeRO-1 and 2, from the first replica only:
//     layer_{i}-model_{mp}_model_states.pt per layer with pipeline
//     parallelism, model_{mp}_model_states.pt without;
//   - the weights under ZeRO-3 (sharded over every rank) and without ZeRO
//     (the first replica): zero_pp_rank_{dp}_mp_rank_{mp}_model_states.pt.
func (s Sizing) Files(rank int64) []File {
	_, pp, dp, mp := s.coords(rank)
	if s.Par.Zero == 0 && dp > 0 {
		return nil // the other replicas hold copies of the first's state
	}
	var files []File
	first, last := s.layerRange(pp)
	switch {
	case s.Par.Zero == 1 || s.Par.Zero == 2:
		if dp == 0 && s.Par.Pipeline > 1 {
			for i := first; i <= last; i++ {
				files = append(files, File{Name: fmt.Sprintf("layer_%d-model_%d_model_states.pt", i, mp), Tensors: s.layerTensors(i)})
			}
		} else if dp == 0 {
			files = append(files, File{Name: fmt.Sprintf("model_%d_model_states.pt", mp), Tensors: s.layers(first, last)})
		}
	default:
		files = append(files, File{Name: fmt.Sprintf("zero_pp_rank_%d_mp_rank_%d_model_states.pt", dp, mp), Tensors: s.layers(first, last)})
	}
	files = append(files, File{Name: fmt.Sprintf("zero_pp_rank_%d_mp_rank_%d_optim_states.pt", dp, mp), Tensors: s.optimizerTensors()})
	return files
}

// layers is the tensors of layers first..last in one file: the
// embedding, head and norm by name, and each tensor of the transformer
// layers as one run over all of them ("layers_1-126.qkv"), which is the
// same bytes back to back as one tensor per layer and costs the same for
// any number of layers.
func (s Sizing) layers(first, last int64) []Tensor {
	var ts []Tensor
	if first == 0 {
		ts = append(ts, s.layerTensors(0)...)
	}
	lo, hi := max(first, 1), min(last, s.Model.Layers)
	if n := hi - lo + 1; n > 0 {
		for _, t := range s.layerTensors(lo) {
			ts = append(ts, Tensor{Name: fmt.Sprintf("layers_%d-%d.%s", lo, hi, t.Name), Bytes: n * t.Bytes})
		}
	}
	for i := max(first, s.Model.Layers+1); i <= last; i++ {
		ts = append(ts, s.layerTensors(i)...)
	}
	return ts
}

// layersBytes is the bytes of layers first..last, as layers gives them
// with no names made.
func (s Sizing) layersBytes(first, last int64) int64 {
	sum := func(ts []Tensor) (n int64) {
		for _, t := range ts {
			n += t.Bytes
		}
		return n
	}
	var n int64
	if first == 0 {
		n += sum(s.layerTensors(0))
	}
	if k := min(last, s.Model.Layers) - max(first, 1) + 1; k > 0 {
		n += k * sum(s.layerTensors(1))
	}
	for i := max(first, s.Model.Layers+1); i <= last; i++ {
		n += sum(s.layerTensors(i))
	}
	return n
}

// RankBytes is what rank saves per checkpoint, split into weights and
// optimizer state.
func (s Sizing) RankBytes(rank int64) (model, optimizer int64) {
	return filesBytes(s.Files(rank))
}

func filesBytes(fs []File) (model, optimizer int64) {
	for _, f := range fs {
		if isOptimizer(f.Name) {
			optimizer += f.Bytes()
		} else {
			model += f.Bytes()
		}
	}
	return model, optimizer
}

func isOptimizer(name string) bool {
	return len(name) > len("_optim_states.pt") && name[len(name)-len("_optim_states.pt"):] == "_optim_states.pt"
}

// Group is ranks that save the same files' sizes: the ranks of one
// pipeline stage in the first data-parallel replica, or in the others.
// Their tensor-parallel shards and their replicas differ only in names.
type Group struct {
	// Rank is the group's first rank, whose files stand for all.
	Rank  int64
	Ranks int64
	// Model and Optimizer are one rank's bytes, Files its file count.
	Model, Optimizer, Files int64
}

// Groups splits ranks 0..ranks-1 into groups that save the same, at most
// two per pipeline stage, so what a run saves is summed per group and not
// per rank: the cost is the pipeline's stages and the layers, whatever the
// number of ranks.
func (s Sizing) Groups(ranks int64) []Group {
	tp, pp := s.Par.Tensor, s.Par.Pipeline
	replica := tp * pp
	full, rem := ranks/replica, ranks%replica
	var out []Group
	for p := range pp {
		// The partial replica (number full) holds the ranks below rem.
		part := min(max(rem-tp*p, 0), tp)
		first, others := part, int64(0)
		if full > 0 {
			first, others = tp, tp*(full-1)+part
		}
		for dp, n := range []int64{first, others} {
			if n == 0 {
				continue
			}
			r := int64(dp)*replica + p*tp
			m, o, f := s.rankSizes(r)
			out = append(out, Group{Rank: r, Ranks: n, Model: m, Optimizer: o, Files: f})
		}
	}
	return out
}

// rankSizes is what Files(rank) gives, in sizes only: the bytes of its
// weights and optimizer state, and its number of files, without a name
// or a file per layer.
func (s Sizing) rankSizes(rank int64) (model, optimizer, files int64) {
	_, pp, dp, _ := s.coords(rank)
	if s.Par.Zero == 0 && dp > 0 {
		return 0, 0, 0
	}
	for _, t := range s.optimizerTensors() {
		optimizer += t.Bytes
	}
	first, last := s.layerRange(pp)
	weights := s.layersBytes(first, last)
	switch {
	case s.Par.Zero == 1 || s.Par.Zero == 2:
		if dp == 0 && s.Par.Pipeline > 1 {
			return weights, optimizer, last - first + 2
		} else if dp == 0 {
			return weights, optimizer, 2
		}
		return 0, optimizer, 1
	}
	return weights, optimizer, 2
}

// Totals is what ranks 0..ranks-1 save per checkpoint.
func (s Sizing) Totals(ranks int64) (model, optimizer int64) {
	for _, g := range s.Groups(ranks) {
		model += g.Ranks * g.Model
		optimizer += g.Ranks * g.Optimizer
	}
	return model, optimizer
}

// MaxRanks bounds tensor × pipeline × data: about ten times the largest
// training runs, and what one process can emulate as goroutines.
const MaxRanks = 1 << 20

// Check reports what makes the sizing impossible, naming the field.
func (s Sizing) Check() (field string, err error) {
	m, p := s.Model, s.Par
	switch {
	case DatatypeBytes(m.ModelDatatype) == 0:
		return "model.model_datatype", fmt.Errorf("unknown datatype %q", m.ModelDatatype)
	case DatatypeBytes(m.OptimizerDatatype) == 0:
		return "model.optimizer_datatype", fmt.Errorf("unknown datatype %q", m.OptimizerDatatype)
	case m.Heads > m.Hidden:
		return "model.heads", fmt.Errorf("%d heads do not fit a hidden size of %d", m.Heads, m.Hidden)
	case m.KVHeads > m.Heads:
		return "model.kv_heads", fmt.Errorf("%d KV heads are more than the %d attention heads", m.KVHeads, m.Heads)
	case p.Pipeline > m.Layers:
		return "parallelism.pipeline", fmt.Errorf("%d pipeline stages for %d layers: a stage would hold no layer", p.Pipeline, m.Layers)
	case p.Tensor*p.Pipeline > MaxRanks || p.Ranks() > MaxRanks:
		return "parallelism.data", fmt.Errorf("tensor %d × pipeline %d × data %d is more than %d ranks, about ten times the largest training runs: lower one of them",
			p.Tensor, p.Pipeline, p.Data, MaxRanks)
	case p.Zero == 3 && p.Pipeline > 1:
		return "parallelism.zero", fmt.Errorf("ZeRO-3 shards the weights over the data-parallel replicas and does not combine with pipeline parallelism (pipeline is %d)", p.Pipeline)
	}
	return "", nil
}
