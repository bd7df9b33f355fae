package measure

import "fmt"

// IEC formats a byte count for people in binary units (KiB = 2^10 bytes),
// the units dataset and record sizes are usually chosen in.
func IEC(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit && f > -unit || u == "PiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}

// Rate formats a throughput in bytes per second in decimal megabytes
// (MB = 10^6 bytes), the unit storage vendors quote.
func Rate(bytesPerSecond float64) string {
	return fmt.Sprintf("%.1f MB/s", bytesPerSecond/1e6)
}

// MBPerSecond is bytes over seconds in decimal megabytes per second
// (MB = 10^6 bytes); 0 when no time passed, as for a stage that never
// started.
func MBPerSecond(bytes int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / seconds
}
