// Package vectorsearch implements the index and query stages: vector
// search served straight from storage, with no database. An index stage
// builds a real index (FLAT, IVF_FLAT or DISKANN) over a vector collection
// (a dataset of format fbin) and stores it on a target; a query stage
// reads it back with the I/O pattern of the engine it emulates and
// reports throughput, per-query latency percentiles, bytes and reads per
// query, and recall against an exact ground truth over the whole
// collection, computed outside the timed loop. The two kinds live
// together because a query plans itself from the index stage it names.
package vectorsearch

import (
	"fmt"
	"strings"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/ivf"
)

// IndexSpec mirrors schema.#Index.
type IndexSpec struct {
	dsl.Common
	Dataset           string  `json:"dataset"`
	IndexType         string  `json:"index_type"`
	Target            string  `json:"target,omitempty"`
	Path              string  `json:"path"`
	Workers           int     `json:"workers"`
	Nlist             int     `json:"nlist,omitempty"`
	MaxDegree         int     `json:"max_degree,omitempty"`
	SearchListSize    int     `json:"search_list_size,omitempty"`
	Alpha             float64 `json:"alpha,omitempty"`
	PQCodeBudgetRatio float64 `json:"pq_code_budget_ratio,omitempty"`
}

// QuerySpec mirrors schema.#Query.
type QuerySpec struct {
	dsl.Common
	Index          string  `json:"index"`
	Mode           string  `json:"mode"`
	Duration       float64 `json:"duration"`
	QueryCount     int64   `json:"query_count"`
	Concurrency    int     `json:"concurrency"`
	TopK           int     `json:"top_k"`
	Nprobe         int     `json:"nprobe,omitempty"`
	SearchListSize int     `json:"search_list_size,omitempty"`
	BeamWidth      int     `json:"beam_width,omitempty"`
	Cache          string  `json:"cache"`
	Sweep          *Sweep  `json:"sweep,omitempty"`
}

// Sweep mirrors schema.#Query.sweep.
type Sweep struct {
	Parameter    string  `json:"parameter"`
	Values       []int   `json:"values"`
	RecallTarget float64 `json:"recall_target,omitempty"`
}

func init() {
	stages.Register(stages.Kind{Name: "index", Plan: planIndex})
	stages.Register(stages.Kind{Name: "query", Plan: planQuery})
}

// built is an index as planned: the collection it is built from, where it
// is stored and how.
type built struct {
	id     string // the index stage
	spec   IndexSpec
	coll   *dataset.Layout
	metric vector.Metric
	target string // where the index is stored
	dir    string // its objects' folder on target
	seed   uint64 // the workload's: a build is reproducible from it
}

// Output names what an index stage writes, for the plan's edges: a query
// reads it.
func (b *built) Output() string { return "index " + b.id }

// resolveIndex plans the index stage id, whose fields errors point at
// with at.
func resolveIndex(in *stages.PlanInput, id string) (*built, error) {
	w := in.Workload
	var s IndexSpec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(f ...any) []any { return append([]any{"stages", id}, f...) }
	coll, err := dataset.Resolve(w, s.Dataset, at("dataset")...)
	if err != nil {
		return nil, err
	}
	if coll.Dataset.Vectors == nil {
		return nil, w.ErrorAt(at("dataset"), "dataset %s is %s files, not a vector collection: index a dataset of format fbin, with vectors: {dimension: ...}", coll.Name, coll.Format)
	}
	if err := in.Stores(coll.Target, "there are no vectors to build an index from: store the collection on a target that keeps it", at("dataset")...); err != nil {
		return nil, err
	}
	metric, _ := vector.ParseMetric(coll.Dataset.Vectors.Metric) // the dataset checked it
	b := &built{id: id, spec: s, coll: coll, metric: metric, target: coll.Target, seed: w.Seed}
	if s.Target != "" {
		b.target = s.Target
	}
	if _, err := in.Target(b.target, at("target")...); err != nil {
		return nil, err
	}
	if s.IndexType != "FLAT" {
		if err := in.Stores(b.target, "an index stored there could not be read back: store it on a target that keeps it", at("target")...); err != nil {
			return nil, err
		}
	}
	b.dir = strings.TrimSuffix(s.Path, "/") + "/" + id
	if s.IndexType == "IVF_FLAT" && s.Nlist > 0 && int64(s.Nlist) > coll.Collection() {
		return nil, w.ErrorAt(at("nlist"), "nlist %d is more lists than the collection's %d vectors: lower nlist, or leave it out for 4·√N", s.Nlist, coll.Collection())
	}
	return b, nil
}

// nlist is an IVF_FLAT index's list count: as set, or Milvus's rule of
// thumb of 4·√N (ivf.DefaultNList).
func (b *built) nlist() int {
	if b.spec.Nlist > 0 {
		return b.spec.Nlist
	}
	return ivf.DefaultNList(b.coll.Collection())
}

func planIndex(in *stages.PlanInput, id string) (stages.Task, error) {
	b, err := resolveIndex(in, id)
	if err != nil {
		return nil, err
	}
	return &indexTask{b: b}, nil
}

func planQuery(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s QuerySpec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(f ...any) []any { return append([]any{"stages", id}, f...) }
	st, ok := w.Stages[s.Index]
	if !ok || st.Kind != "index" {
		var idx []string
		for _, sid := range w.StageIDs() {
			if w.Stages[sid].Kind == "index" {
				idx = append(idx, sid)
			}
		}
		what := "no stage"
		if ok {
			what = fmt.Sprintf("a %s stage", st.Kind)
		}
		return nil, w.ErrorAt(at("index"), "%s is %s, not an index stage (index stages: %s)", s.Index, what, orNone(idx))
	}
	b, err := resolveIndex(in, s.Index)
	if err != nil {
		// The index stage reports its own errors.
		return nil, w.ErrorAt(at("index"), "index stage %s does not plan", s.Index)
	}
	type param struct {
		name string
		set  bool
		for_ string
	}
	tunes := map[string]string{"nprobe": "IVF_FLAT", "search_list_size": "DISKANN", "beam_width": "DISKANN"}
	for _, p := range []param{
		{"nprobe", s.Nprobe > 0, "IVF_FLAT"},
		{"search_list_size", s.SearchListSize > 0, "DISKANN"},
		{"beam_width", s.BeamWidth > 0, "DISKANN"},
	} {
		if p.set && b.spec.IndexType != p.for_ {
			return nil, w.ErrorAt(at(p.name), "%s tunes %s searches, and index %s is %s: drop %s", p.name, p.for_, s.Index, b.spec.IndexType, p.name)
		}
	}
	if s.Nprobe > b.nlist() {
		return nil, w.ErrorAt(at("nprobe"), "nprobe %d is more lists than index %s has (%d)", s.Nprobe, s.Index, b.nlist())
	}
	if sw := s.Sweep; sw != nil {
		if for_ := tunes[sw.Parameter]; for_ != b.spec.IndexType {
			return nil, w.ErrorAt(at("sweep", "parameter"), "%s tunes %s searches, and index %s is %s: sweep one of its parameters", sw.Parameter, for_, s.Index, b.spec.IndexType)
		}
		for i, v := range sw.Values {
			if sw.Parameter == "nprobe" && v > b.nlist() {
				return nil, w.ErrorAt(at("sweep", "values", i), "nprobe %d is more lists than index %s has (%d)", v, s.Index, b.nlist())
			}
		}
	}
	if s.Cache == "direct" {
		where := b.target
		if b.spec.IndexType == "FLAT" {
			where = b.coll.Target
		}
		if t := in.Targets[where]; !t.Traits.DirectRead {
			return nil, w.ErrorAt(at("cache"), "cache \"direct\" reads with O_DIRECT, around the host's page cache, which target %s (%s) does not use: use a file target, or cache \"cold\"", where, t.URI)
		}
	}
	if int64(s.TopK) > b.coll.Collection() {
		return nil, w.ErrorAt(at("top_k"), "top_k %d is more neighbours than the collection's %d vectors", s.TopK, b.coll.Collection())
	}
	return &queryTask{spec: s, id: id, b: b, pageCache: in.Targets[b.target].Traits.PageCache}, nil
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
