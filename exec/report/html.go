package report

import "io"

// WriteHTML writes report.html.
func (rep *Report) WriteHTML(w io.Writer) error { return nil }
