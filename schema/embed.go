// Package schema holds the CUE definitions of everything a user can write in
// a workload. The .cue files are the source of truth: they are embedded in
// the binary, served to user files under the import path "mlps.dev/schema",
// and usable on their own with `cue vet`.
package schema

import "embed"

// Files holds the schema's .cue files.
//
//go:embed *.cue
var Files embed.FS

// ImportPath is the CUE import path of the schema package.
const ImportPath = "mlps.dev/schema"

// Module is the CUE module that holds the schema and the shipped workloads.
const Module = "mlps.dev@v0"

// LanguageVersion is the CUE language version the schema is written in.
const LanguageVersion = "v0.17.0"
