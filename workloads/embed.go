// Package workloads ships the workloads that come with mlps. Each is a CUE
// package that a user's file can import (import "mlps.dev/workloads:demo")
// and then change, or that `mlps exec workloads/demo.cue` runs as it is.
package workloads

import "embed"

// Files holds the shipped .cue files, by their path below workloads/.
//
//go:embed *.cue */*.cue
var Files embed.FS

// ImportPath is the CUE import path of the directory holding the workloads.
const ImportPath = "mlps.dev/workloads"
