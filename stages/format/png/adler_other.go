//go:build !amd64 || purego

package png

func adlerUpdate(d uint32, p []byte) uint32 { return adlerGeneric(d, p) }
