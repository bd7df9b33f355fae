package backends

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxCAFile bounds what ReadCAFile reads: the bundles operating systems
// ship are under 1 MiB, and a ca_file naming /dev/zero must not eat the
// memory.
const maxCAFile = 16 << 20

// ReadCAFile reads a ca_file: a PEM bundle holding at least one
// certificate. Resolve calls it so that a path that is missing, unreadable
// or not PEM is an input error at plan time, and the object stores' HTTP
// client calls it again at open to build its trust. Its errors name the
// path, never the file's content.
func ReadCAFile(path string) ([]byte, error) {
	const want = "want a PEM file of the certificate authorities to trust (-----BEGIN CERTIFICATE-----)"
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once, below
		}
		return nil, fmt.Errorf("%q: %v; %s", path, err, want)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	switch {
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%q: %v; %s", path, err, want)
	case len(b) > maxCAFile:
		return nil, fmt.Errorf("%q is larger than %d MiB, which no CA bundle is; %s", path, maxCAFile>>20, want)
	case !x509.NewCertPool().AppendCertsFromPEM(b):
		return nil, fmt.Errorf("%q holds no PEM certificate; %s", path, want)
	}
	return b, nil
}
