// Package submission holds the CUE schema of a submission's system
// description (system.cue): what mlps submission init writes a template
// of, and mlps submission add and mlps validate check each system against.
package submission

import "embed"

// Files holds the schema's .cue files.
//
//go:embed *.cue
var Files embed.FS
