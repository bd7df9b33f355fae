package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unet3d with the reference parameters; files and subfolders are defaults
// so that datasize's overrides apply.
const unet3d = `name: "unet3d"
targets: t: uri: "tmp://"
datasets: train: {target: "t", format: "npz", files: *168 | _, subfolders: *0 | _,
	record_bytes: 146600628, record_bytes_stdev: 68341808}
stages: {
	datagen: {kind: "generate", dataset: "train"}
	train: {kind: "read-epoch", dataset: "train", epochs: 5, batch_size: 7, read_threads: 4,
		accelerators: *8 | _, computation_time: 0.323}
}
`

// The rules' worked example: unet3d on one client with 128 GiB and 8
// accelerators needs 28,000 files (by steps; 4,687 by memory), about
// 3.73 TiB; the printed overrides plan that dataset.
func TestDatasizeWorkedExample(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "unet3d.cue")
	if err := os.WriteFile(wl, []byte(unet3d), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"datasize", wl, "--client-memory-gib", "128", "--clients", "1", "--accelerators", "8", "--json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got []struct {
		Files         int64    `json:"files"`
		FilesByMemory int64    `json:"files_by_memory"`
		FilesBySteps  int64    `json:"files_by_steps"`
		Subfolders    int64    `json:"subfolders"`
		Bytes         int64    `json:"bytes"`
		Sets          []string `json:"sets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	d := got[0]
	if d.Files != 28000 || d.FilesBySteps != 28000 || d.FilesByMemory != 4687 || d.Subfolders != 3 {
		t.Errorf("datasize %+v", d)
	}
	if tib := float64(d.Bytes) / (1 << 40); tib < 3.72 || tib > 3.74 {
		t.Errorf("%.3f TiB, want about 3.73", tib)
	}
	args := []string{"plan", wl, "--format", "json"}
	for _, s := range d.Sets {
		args = append(args, "--set", s)
	}
	stdout.Reset()
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("plan with the overrides: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"files": 28000`) {
		t.Errorf("the overrides do not plan 28000 files:\n%s", stdout.String())
	}
}

func TestDatasizeNeedsItsFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"datasize", demo, "--clients", "1"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "must be positive") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// Figures no system has, or whose products pass 64 bits, are refused
// with a message and exit 2, never answered with a negative or wrapped
// number.
func TestDatasizeRefusesImpossibleSystems(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "unet3d.cue")
	if err := os.WriteFile(wl, []byte(unet3d), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NaN", []string{"--client-memory-gib", "NaN", "--accelerators", "8"}, "--client-memory-gib NaN: want a number of GiB from 0 to 1048576"},
		{"Inf", []string{"--client-memory-gib", "Inf", "--accelerators", "8"}, "--client-memory-gib +Inf: want a number of GiB from 0 to 1048576"},
		{"-Inf", []string{"--client-memory-gib", "-Inf", "--accelerators", "8"}, "must be positive"},
		{"1e18", []string{"--client-memory-gib", "1e18", "--accelerators", "8"}, "--client-memory-gib 1e+18: want a number of GiB from 0 to 1048576"},
		// 1 PiB on each of 2^62 clients: the memory product passes 2^120.
		{"clients overflow", []string{"--client-memory-gib", "1048576", "--clients", "4611686018427387904", "--accelerators", "8"},
			"stage train: dataset train would need"},
		{"accelerators", []string{"--client-memory-gib", "128", "--accelerators", "9223372036854775807"}, "--accelerators 9223372036854775807: want at most 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"datasize", wl}, tc.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stdout %q", code, exitUsage, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// A vector workload needs no training flags: datasize prints each index's
// raw bytes, upstream's estimate (its overhead factor times the raw) and
// what mlps's index stores, which the index stage's test holds to the
// bytes a build writes.
func TestDatasizeVectorIndexes(t *testing.T) {
	for _, tc := range []struct {
		file, index string
		factor      float64
	}{
		{"flat", "FLAT", 1.0},
		{"ivf_flat", "IVF_FLAT", 1.05},
		{"diskann", "DISKANN", 1.3},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"datasize", "../../workloads/vectordb/" + tc.file + ".cue", "--json"}, &stdout, &stderr)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", tc.file, code, stderr.String())
		}
		var got []struct {
			Type          string  `json:"index_type"`
			Raw           int64   `json:"raw_bytes"`
			Factor        float64 `json:"upstream_factor"`
			UpstreamBytes int64   `json:"upstream_bytes"`
			Stored        int64   `json:"stored_bytes"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got) != 1 {
			t.Fatalf("%s: %v: %s", tc.file, err, stdout.String())
		}
		x := got[0]
		const raw = 1_000_000 * 1536 * 4
		if x.Type != tc.index || x.Raw != raw || x.Factor != tc.factor || x.UpstreamBytes != int64(tc.factor*raw) {
			t.Errorf("%s: %+v, want %s, %d raw bytes, upstream %g × raw", tc.file, x, tc.index, raw, tc.factor)
		}
		if tc.index != "FLAT" && x.Stored <= raw {
			t.Errorf("%s: the index stores %d bytes, less than the vectors it holds", tc.file, x.Stored)
		}
	}
}
