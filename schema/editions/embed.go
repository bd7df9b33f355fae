// Package editions holds MLPerf Storage's rules as data, one CUE file per
// edition (v3.0.cue), checked against #Edition (edition.cue): the numbers
// a validator compares results with. A new edition is a new file.
package editions

import "embed"

// Files holds the editions' .cue files.
//
//go:embed *.cue
var Files embed.FS
