package objstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
)

// UntrustedError is a request that failed because the server's TLS
// certificate did not verify. The transport returns it in place of the
// TLS error so that whatever an SDK wraps around it still tells the user
// which option fixes it. A retry cannot, so it tells the aws and Azure
// SDKs not to (the GCS SDK does not retry it; minio-go does, for a second
// or two, and no option of it says otherwise).
type UntrustedError struct {
	// Endpoint is the server's base URL, https://host:port.
	Endpoint string
	// CAFile is the CA bundle the client trusted beside the system's: the
	// target's ca_file, or for s3 AWS_CA_BUNDLE; "" when there is none.
	CAFile string
	Err    *tls.CertificateVerificationError
}

func (e *UntrustedError) Error() string {
	var he x509.HostnameError
	if errors.As(e.Err.Err, &he) {
		// A trusted CA signed it, for another name: ca_file cannot help.
		return fmt.Sprintf("the TLS certificate of %s is not trusted: %v; the endpoint must use a host name or address the certificate names", e.Endpoint, e.Err.Err)
	}
	if e.CAFile != "" {
		// Say the file, not the option: for s3 it may have come from
		// AWS_CA_BUNDLE rather than ca_file.
		return fmt.Sprintf("the TLS certificate of %s is not trusted: %v; the CA bundle %s does not hold the CA that signed it: give that CA's PEM file as the target's ca_file", e.Endpoint, e.Err.Err, e.CAFile)
	}
	return fmt.Sprintf("the TLS certificate of %s is not trusted: %v; give the PEM file of the CA that signed it as the target's ca_file (or, for a test store only, set insecure_skip_verify: true)",
		e.Endpoint, e.Err.Err)
}

func (e *UntrustedError) Unwrap() error { return e.Err }

// RetryableError tells aws-sdk-go-v2's retryer, which would otherwise
// retry it as a connection error until the open check's deadline hides it,
// that a retry cannot help.
func (e *UntrustedError) RetryableError() bool { return false }

// NonRetriable tells the Azure SDK's retry policy the same.
func (e *UntrustedError) NonRetriable() {}

// untrusted returns err as an *UntrustedError when it is the failure to
// verify the certificate of req's server, else err.
func untrusted(req *http.Request, err error, caFile string) error {
	var ve *tls.CertificateVerificationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	return &UntrustedError{Endpoint: req.URL.Scheme + "://" + req.URL.Host, CAFile: caFile, Err: ve}
}

// Incurable reports whether err is one that no retry of the request can
// cure, whatever an SDK's retryer would guess from its being a connection
// error: today a certificate that does not verify.
func Incurable(err error) bool {
	var ue *UntrustedError
	return errors.As(err, &ue)
}
