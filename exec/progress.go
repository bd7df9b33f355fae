package exec

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages/measure"
)

// startProgress reports the running stages every tick until the returned
// function is called: bytes moved against the plan, the rate since the
// stage started and the time left at that rate.
func startProgress(opts Options, runs []*stageRun) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = time.Second
		if !opts.Live {
			interval = 10 * time.Second
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				if opts.Live {
					fmt.Fprint(opts.Progress, "\r\033[K")
				}
				return
			case now := <-tick.C:
				line := statusLine(runs, now)
				if line == "" {
					continue
				}
				if opts.Live {
					fmt.Fprintf(opts.Progress, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(opts.Progress, line)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); wg.Wait() }) }
}

func statusLine(runs []*stageRun, now time.Time) string {
	var parts []string
	for _, run := range runs {
		sr := run.rep
		start, end := run.times()
		if start.IsZero() || !end.IsZero() {
			continue
		}
		snap := run.meter.Snapshot()
		planned := sr.Planned.Bytes()
		el := now.Sub(start)
		rate := float64(snap.Bytes) / el.Seconds()
		s := fmt.Sprintf("[%s] %s", sr.ID, measure.IEC(snap.Bytes))
		if planned > 0 {
			s += fmt.Sprintf(" / %s %3.0f%%", measure.IEC(planned), 100*float64(snap.Bytes)/float64(planned))
		}
		s += " stage " + measure.Rate(rate)
		if planned > 0 && rate > 0 && snap.Bytes < planned {
			eta := time.Duration(float64(planned-snap.Bytes) / rate * float64(time.Second))
			s += " ETA " + eta.Round(time.Second).String()
		}
		if snap.Errors > 0 {
			s += fmt.Sprintf(" %d errors", snap.Errors)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " | ")
}

// progressLine notes a finished stage on the progress stream.
func progressLine(opts Options, sr *results.StageReport) {
	if opts.Progress == nil {
		return
	}
	prefix := ""
	if opts.Live {
		prefix = "\r\033[K"
	}
	fmt.Fprintf(opts.Progress, "%s[%s] done: %s in %.2fs (stage %s)\n", prefix, sr.ID,
		measure.IEC(sr.Measured.Bytes), sr.Seconds, measure.Rate(1e6*measure.MBPerSecond(sr.Measured.Bytes, sr.Seconds)))
}
