package dlio

import "strings"

// known lists the fields of each section of a DLIO workload, as DLIO's
// LoadConfig reads them (old and new names), for suggestions when a field
// is misspelled.
var known = map[string][]string{
	"": {"model", "framework", "workflow", "dataset", "reader", "data_reader", "train", "evaluation",
		"checkpoint", "storage", "metric", "profiling", "output"},
	"workflow": {"generate_data", "train", "evaluation", "checkpoint", "profiling"},
	"storage":  {"storage_type", "storage_root", "storage_options"},
	"dataset": {"data_folder", "format", "num_files_train", "num_files_eval", "num_samples_per_file",
		"record_length", "record_length_stdev", "record_length_resize", "record_length_bytes",
		"record_length_bytes_stdev", "record_length_bytes_resize", "num_subfolders_train",
		"num_subfolders_eval", "file_prefix", "keep_files", "generation_buffer_size", "enable_chunking",
		"chunk_size", "compression", "compression_level", "record_dims", "record_element_type",
		"record_element_bytes", "hdf5", "parquet"},
	"reader": {"data_loader", "batch_size", "batch_size_eval", "read_threads", "computation_threads",
		"prefetch_size", "file_shuffle", "sample_shuffle", "shuffle_size", "read_type", "file_access",
		"transfer_size", "odirect", "preprocess_time", "preprocess_time_stdev", "dont_use_mmap",
		"reader_classname", "data_loader_classname", "data_loader_sampler", "multiprocessing_context",
		"pin_memory", "transformed_record_dims", "transformed_record_element_type"},
	"train":      {"epochs", "computation_time", "computation_time_stdev", "total_training_steps", "seed_change_epoch", "seed"},
	"evaluation": {"eval_time", "eval_time_stdev", "eval_after_epoch", "epochs_between_evals"},
	"checkpoint": {"checkpoint_folder", "checkpoint_after_epoch", "epochs_between_checkpoints",
		"steps_between_checkpoints", "type", "mode", "fsync", "time_between_checkpoints",
		"num_checkpoints_write", "num_checkpoints_read", "recovery_rank_shift", "rank_sync",
		"randomize_tensor", "checkpoint_mechanism_classname", "ksm", "model_size"},
	"model":     {"name", "type", "model_size", "model_size_bytes", "optimization_groups", "num_layers", "layer_parameters", "model_datatype", "optimizer_datatype", "parallelism", "transformer"},
	"metric":    {"au"},
	"profiling": {"profiler", "iostat_devices"},
	"output":    {"folder", "log_file", "metric"},
}

func init() { known["data_reader"] = known["reader"] }

// suggest returns the known field closest to the misspelt path, such as
// "train.epochs" for "train.epoch", or "".
func suggest(path string) string {
	sec, key := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		sec, key = path[:i], path[i+1:]
	}
	// At most two edits, or one name a prefix of the other; ties go to
	// the fewer edits.
	best, bestScore := "", 3*1000
	for _, k := range known[sec] {
		raw := distance(key, k)
		d := raw
		if strings.HasPrefix(k, key) || strings.HasPrefix(key, k) {
			d = min(d, 2)
		}
		if score := d*1000 + raw; score < bestScore {
			best, bestScore = k, score
		}
	}
	if best == "" {
		return ""
	}
	if sec != "" {
		return sec + "." + best
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
