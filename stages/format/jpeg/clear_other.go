//go:build !amd64 || purego

package jpeg

func clearTopBits(p []byte) { clearTopBitsGeneric(p) }
