package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/pairbench"
	"mlps.dev/mlps/backends/servers"
)

const (
	benchObject      = 16 << 20
	benchConcurrency = 8
	benchObjects     = 48 // per run
)

// BenchmarkS3VsPlainMinio measures PUT and GET of 16 MiB objects at
// concurrency 8 against MinIO on loopback, through mlps's s3 backend with
// each client, and through a plain minio-go loop doing the same work in the
// same run: PutObject of a payload held in memory (unsigned, as mlps
// sends) and Core.GetObject's raw body read to the end. The plain GET is
// minio-go's fastest path, the one mlps's minio client takes: Client's
// GetObject would move every 8 KiB through a goroutine and burn most of a
// core, and flatter mlps. Every way reads into a reused 1 MiB buffer.
// mlps stores the held payload with backends.Put, as the plain loop does;
// the "_stream" ways write it in 1 MiB pieces through a Writer, as
// generate does, which costs a copy into the part buffer that retries
// need. Each way is compared with the plain loop in alternated pairs
// (backends/pairbench): the ratio of MB/s, and both sides' client CPU
// seconds per GB (MinIO's own CPU is not counted on either side). MinIO
// stores in tmpfs when the host has one, so the disk's write-back does not
// swamp the clients' differences.
func BenchmarkS3VsPlainMinio(b *testing.B) {
	srv := servers.MinIOInMemory(b)
	srv.Bucket(b, "bench")
	plain := srv.Client(b)
	payload := make([]byte, benchObject)
	for i := range payload {
		payload[i] = byte(i*7 + i>>9)
	}
	ways := map[string]backends.Backend{}
	for _, client := range []string{"aws", "minio"} {
		c := config(srv.Endpoint, "bench", client)
		c.PartBytes, c.SplitBytes = 0, 0 // the defaults: 16 MiB parts, reads split above 32 MiB
		bk, err := backends.OpenConfig(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		defer bk.Close()
		ways[client] = bk
	}
	key := func(i int) string { return fmt.Sprintf("pre/fix/obj-%03d", i) }
	put := map[string]func(ctx context.Context, i int) error{
		"plain": func(ctx context.Context, i int) error {
			_, err := plain.PutObject(ctx, "bench", key(i), bytes.NewReader(payload), benchObject,
				minio.PutObjectOptions{DisableContentSha256: true, PartSize: 16 << 20})
			return err
		},
	}
	bufs := sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}
	drain := func(r io.Reader) error {
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		var n int64
		for {
			m, err := r.Read(*bp)
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if n != benchObject {
			return fmt.Errorf("read %d bytes", n)
		}
		return nil
	}
	core := minio.Core{Client: plain}
	get := map[string]func(ctx context.Context, i int) error{
		"plain": func(ctx context.Context, i int) error {
			body, _, _, err := core.GetObject(ctx, "bench", key(i), minio.GetObjectOptions{})
			if err != nil {
				return err
			}
			defer body.Close()
			return drain(body)
		},
	}
	for name, bk := range ways {
		put[name] = func(ctx context.Context, i int) error {
			_, err := backends.Put(ctx, bk, fmt.Sprintf("obj-%03d", i), payload)
			return err
		}
		put[name+"_stream"] = func(ctx context.Context, i int) error {
			w, err := bk.Create(ctx, fmt.Sprintf("obj-%03d", i), benchObject)
			if err != nil {
				return err
			}
			for off := 0; off < benchObject; off += 1 << 20 {
				if _, err := w.Write(payload[off : off+1<<20]); err != nil {
					w.Abort()
					return err
				}
			}
			return w.Close()
		}
		get[name] = func(ctx context.Context, i int) error {
			r, err := bk.Open(ctx, fmt.Sprintf("obj-%03d", i), 0, benchObject)
			if err != nil {
				return err
			}
			defer r.Close()
			return drain(r)
		}
	}
	compared := map[string][]string{
		"put": {"aws", "minio", "aws_stream", "minio_stream"},
		"get": {"aws", "minio"},
	}
	side := func(name string, f func(ctx context.Context, i int) error) pairbench.Side {
		return pairbench.Side{Name: name, Prepare: srv.EmptyTrash, Run: func(context.Context) (pairbench.Run, error) {
			d, err := parallel(f)
			return pairbench.Run{Bytes: benchObjects * benchObject, Files: benchObjects, Seconds: d.Seconds()}, err
		}}
	}
	for _, op := range []string{"put", "get"} {
		if op == "get" {
			// The objects the gets read, written once.
			if _, err := parallel(put["plain"]); err != nil {
				b.Fatal(err)
			}
		}
		for _, way := range compared[op] {
			b.Run(op+"/"+way, func(b *testing.B) {
				f := put
				if op == "get" {
					f = get
				}
				pairbench.Compare(b, pairbench.Config{
					Name:  fmt.Sprintf("s3 %s %d × %d MiB objects at concurrency %d, MinIO on loopback", op, benchObjects, benchObject>>20, benchConcurrency),
					Flush: map[string]string{"put": "as MinIO acknowledges a PUT, both sides"}[op],
				}, side(way, f[way]), side("plain", f["plain"]))
			})
		}
	}
}

// parallel runs f for benchObjects objects, benchConcurrency at a time,
// and returns the wall time.
func parallel(f func(ctx context.Context, i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= benchObjects {
					return
				}
				if err := f(context.Background(), i); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}
