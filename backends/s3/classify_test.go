package s3

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/minio/minio-go/v7"

	"mlps.dev/mlps/backends"
)

// S3's error codes decide first; the status, through the mapping every
// object store shares, decides the rest; without either the cause does.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		err    error
		want   backends.Kind
	}{
		{http.StatusServiceUnavailable, "SlowDown", nil, backends.Transient},
		{http.StatusBadRequest, "RequestTimeout", nil, backends.Transient},
		{http.StatusForbidden, "RequestTimeTooSkewed", nil, backends.Transient},
		{http.StatusNotFound, "NoSuchKey", nil, backends.NotExist},
		{http.StatusNotFound, "NoSuchBucket", nil, backends.NotExist},
		{http.StatusBadRequest, "InvalidAccessKeyId", nil, backends.Permission},
		{http.StatusNotFound, "", nil, backends.NotExist},
		{http.StatusForbidden, "", nil, backends.Permission},
		{http.StatusRequestTimeout, "", nil, backends.Transient},
		{http.StatusTooManyRequests, "", nil, backends.Transient},
		{http.StatusInternalServerError, "", nil, backends.Transient},
		{http.StatusNotImplemented, "NotImplemented", nil, backends.Permanent},
		{http.StatusHTTPVersionNotSupported, "", nil, backends.Permanent},
		{http.StatusConflict, "BucketNotEmpty", nil, backends.Permanent},
		{0, "", fmt.Errorf("read: %w", syscall.ECONNRESET), backends.Transient},
		{0, "", errors.New("boom"), backends.Unknown},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.code), func(t *testing.T) {
			if got := classify(tc.status, tc.code, tc.err); got != tc.want {
				t.Errorf("classify(%d, %q, %v) = %v, want %v", tc.status, tc.code, tc.err, got, tc.want)
			}
		})
	}
}

// Each client hands classify the status and code from its library's own
// error type.
func TestClientKinds(t *testing.T) {
	awsErr := func(status int, code string) error {
		return &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code},
		}
	}
	minioErr := func(status int, code string) error {
		return minio.ErrorResponse{StatusCode: status, Code: code}
	}
	for _, tc := range []struct {
		status int
		code   string
		want   backends.Kind
	}{
		{http.StatusBadRequest, "RequestTimeout", backends.Transient},
		{http.StatusNotImplemented, "", backends.Permanent},
		{http.StatusRequestTimeout, "", backends.Transient},
		{http.StatusNotFound, "", backends.NotExist},
	} {
		if got := (&awsClient{}).kind(awsErr(tc.status, tc.code)); got != tc.want {
			t.Errorf("aws: kind of %d %q = %v, want %v", tc.status, tc.code, got, tc.want)
		}
		if got := (&minioClient{}).kind(minioErr(tc.status, tc.code)); got != tc.want {
			t.Errorf("minio: kind of %d %q = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}
