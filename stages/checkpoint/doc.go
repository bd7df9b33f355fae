// Package checkpoint implements the checkpoint stage: LLM checkpoints
// sized tensor by tensor from the model and its parallelism, written by
// every rank and read back, streamed through a fixed pool of reusable
// chunks so memory does not grow with the checkpoint.
package checkpoint
