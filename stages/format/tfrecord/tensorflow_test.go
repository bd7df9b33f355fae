package tfrecord

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// pythonWithTensorFlow returns a Python 3 that can import tensorflow, or
// skips t. It tries python3 on PATH and then /usr/bin/python3, whose
// site-packages a pyenv or virtualenv python3 earlier on PATH hides.
func pythonWithTensorFlow(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import tensorflow").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with tensorflow; TensorFlow's own reader is not checked")
	return ""
}

// tfScript reads each file with tf.data.TFRecordDataset, which checks both
// CRCs of every frame, parses each record as a tf.train.Example, and checks
// that protobuf's deterministic serialisation of it is our bytes.
const tfScript = `
import json, sys
import tensorflow as tf
out = []
for path in sys.argv[1:]:
    recs = []
    for raw in tf.data.TFRecordDataset(path):
        raw = raw.numpy()
        ex = tf.train.Example.FromString(raw)
        f = ex.features.feature
        img = f['image'].bytes_list.value[0]
        recs.append({
            'keys': sorted(f.keys()),
            'images': len(f['image'].bytes_list.value),
            'n': len(img),
            'head': img[:16].hex(),
            'tail': img[-16:].hex(),
            'size': list(f['size'].int64_list.value),
            'same': ex.SerializeToString(deterministic=True) == raw,
        })
    out.append(recs)
json.dump(out, sys.stdout)
`

// TestTensorFlowReads is the check that matters where it can run:
// TensorFlow itself reads the files and finds DLIO's features and our bytes.
func TestTensorFlowReads(t *testing.T) {
	python := pythonWithTensorFlow(t)
	dir := t.TempDir()
	var paths []string
	for i, s := range specs {
		path := filepath.Join(dir, specName(s)+".tfrecord")
		if err := os.WriteFile(path, writeFile(t, s, fillFor(3, int64(i)), nil), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	cmd := exec.Command(python, append([]string{"-c", tfScript}, paths...)...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=3", "CUDA_VISIBLE_DEVICES=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.Bytes())
	}
	var files [][]struct {
		Keys       []string
		Images, N  int64
		Head, Tail string
		Size       []int64
		Same       bool
	}
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, s := range specs {
		t.Run(specName(s), func(t *testing.T) {
			recs := files[i]
			if int64(len(recs)) != s.Samples {
				t.Fatalf("TensorFlow read %d records, want %d", len(recs), s.Samples)
			}
			fill := fillFor(3, int64(i))
			for k, r := range recs {
				off, n := Payload(s, int64(k))
				e := min(n, 16)
				head := hex.EncodeToString(want(fill, off, e))
				tail := hex.EncodeToString(want(fill, off+n-e, e))
				if !slices.Equal(r.Keys, []string{"image", "size"}) || r.Images != 1 || r.N != n ||
					!slices.Equal(r.Size, []int64{s.RecordBytes}) {
					t.Errorf("record %d: TensorFlow sees %+v", k, r)
				}
				if r.Head != head || r.Tail != tail {
					t.Errorf("record %d: TensorFlow's image bytes differ from fill's", k)
				}
				if !r.Same {
					t.Errorf("record %d: protobuf's deterministic encoding of the Example differs from ours", k)
				}
			}
		})
	}
}
