// Package ckpt holds what the checkpoint stage and read-epoch's periodic
// checkpoints share: the sizing of LLM checkpoints tensor by tensor from
// the model and its parallelism, and the engine that saves and loads
// every rank's files through a fixed pool of reusable chunks, so memory
// does not grow with the checkpoint.
package ckpt
