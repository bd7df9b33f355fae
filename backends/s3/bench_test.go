package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
)

const (
	benchObject      = 16 << 20
	benchConcurrency = 8
	benchObjects     = 48 // per round and way
	benchRounds      = 4  // per iteration, so even one iteration compares the ways several times
)

// BenchmarkS3VsPlainMinio measures PUT and GET of 16 MiB objects at
// concurrency 8 against MinIO on loopback, through mlps's s3 backend with
// each client, and through a plain minio-go loop doing the same work in the
// same run: PutObject of a payload held in memory (unsigned, as mlps
// sends) and Core.GetObject's raw body read to the end. The plain GET is
// minio-go's fastest path, the one mlps's minio client takes: Client's
// GetObject would move every 8 KiB through a goroutine and burn most of a
// core, and flatter mlps. Every way reads into a reused 1 MiB buffer.
// mlps stores the held payload with
// backends.Put, as the plain loop does; the "_stream" ways write it in
// 1 MiB pieces through a Writer, as generate does, which costs a copy
// into the part buffer that retries need. Rounds interleave the ways, in
// rotating order, so that drift on a shared machine hits them alike; each
// way reports MB/s and its ratio to the plain loop, and the client
// process's CPU in cores. MinIO stores in tmpfs when the host has one, so
// the disk's write-back does not swamp the clients' differences.
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
	ops := map[string][]string{
		"put": {"plain", "aws", "minio", "aws_stream", "minio_stream"},
		"get": {"plain", "aws", "minio"},
	}
	elapsed := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	round := func(n int) {
		for _, op := range []string{"put", "get"} {
			order := ops[op]
			// Rotate who goes first: a way that follows another's writes
			// meets the server's dirty pages.
			for k := range order {
				way := order[(k+n)%len(order)]
				f := put[way]
				if op == "get" {
					f = get[way]
				}
				c0 := cpuTime()
				d, err := parallel(f)
				if err != nil {
					b.Fatalf("%s %s: %v", way, op, err)
				}
				elapsed[op+"/"+way] += d
				cpu[op+"/"+way] += cpuTime() - c0
			}
		}
	}
	rounds := 0
	b.ResetTimer()
	for b.Loop() {
		for range benchRounds {
			round(rounds)
			rounds++
		}
	}
	mbps := func(k string) float64 {
		return float64(rounds*benchObjects*benchObject) / 1e6 / elapsed[k].Seconds()
	}
	for _, op := range []string{"put", "get"} {
		ref := mbps(op + "/plain")
		for _, way := range ops[op] {
			k := op + "/" + way
			b.ReportMetric(mbps(k), op+"_"+way+"_MB/s")
			b.ReportMetric(cpu[k].Seconds()/elapsed[k].Seconds(), op+"_"+way+"_cores")
			if way != "plain" {
				b.ReportMetric(mbps(k)/ref, op+"_"+way+"_x_plain")
			}
		}
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
