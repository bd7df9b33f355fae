//go:build !linux

package fiobench

import "errors"

// statfs cannot tell outside Linux; Require skips there anyway.
func statfs(string) (ram bool, free int64, err error) { return false, -1, nil }

func syncAll() error { return errors.New("dropping the page cache needs Linux") }
