package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
)

// awsClient is aws-sdk-go-v2, with its transfer manager for multipart
// uploads.
type awsClient struct {
	s3     *s3.Client
	tm     *transfermanager.Client
	bucket string
}

func newAWS(ctx context.Context, s settings) (client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(s.region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = objstore.MaxAttempts
				o.MaxBackoff = objstore.MaxBackoff
				// The retry quota fails requests once many have failed: a
				// benchmark under throttling wants every request retried.
				o.RateLimiter = ratelimit.None
				// An https:// endpoint that speaks plain HTTP answers
				// every attempt the same way: retrying only delays the
				// message that says so.
				o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if objstore.PlainHTTP(err) {
						return aws.FalseTernary
					}
					return aws.UnknownTernary
				})}, o.Retryables...)
			})
		}),
	}
	if s.explicit {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.access, s.secret, "")))
	}
	if !s.metadata {
		// Off the cloud the metadata address leads nowhere (the SDK then
		// waits seconds and blames it), or to whoever answers there.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if !s.explicit {
		// Look for credentials now, so that none found is said as such
		// rather than as the first request's signing error.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, noCredentials(s, "aws", err)
		}
	}
	cl := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		// Set here rather than in the load options, which refuse a plain
		// *http.Client when AWS_CA_BUNDLE is set; the bundle is already in it.
		o.HTTPClient = s.http
		o.UsePathStyle = s.pathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		// No "Expect: 100-continue" on large PUTs: it costs a round trip
		// per object that minio-go does not pay, which would tilt an A/B.
		o.ContinueHeaderThresholdBytes = -1
	})
	tm := transfermanager.New(cl, func(o *transfermanager.Options) {
		o.PartSizeBytes = s.opts.PartBytes
		o.MultipartUploadThreshold = s.opts.PartBytes
		o.Concurrency = s.opts.PartConcurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return &awsClient{s3: cl, tm: tm, bucket: s.bucket}, nil
}

func rangeHeader(off, n int64) *string {
	switch {
	case n > 0:
		return aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		return aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	return nil
}

func (c *awsClient) get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.bucket, Key: &key, Range: rangeHeader(off, n)})
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			return nil, fmt.Errorf("%w: %v", objstore.ErrPastEnd, err)
		}
		return nil, err
	}
	return out.Body, nil
}

func (c *awsClient) put(ctx context.Context, key string, data []byte) error {
	_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.bucket, Key: &key,
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	return err
}

func (c *awsClient) putStream(ctx context.Context, key string, body io.Reader, _ int64) error {
	_, err := c.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &c.bucket, Key: &key, Body: body})
	return err
}

func (c *awsClient) head(ctx context.Context, key string) (int64, error) {
	out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

func (c *awsClient) del(ctx context.Context, key string) error {
	_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &c.bucket, Key: &key})
	return err
}

func (c *awsClient) headBucket(ctx context.Context) error {
	_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.bucket})
	return err
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func (c *awsClient) kind(err error) backends.Kind {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return classify(httpStatus(err), code, err)
}

// classify maps an S3 error code and status to a Kind; both clients use
// it, so the same response means the same thing whichever library got it.
// The code comes first: S3 answers some transient conditions with a
// status that alone would read as permanent (RequestTimeout is a 400).
func classify(status int, code string, err error) backends.Kind {
	switch code {
	case "NoSuchKey", "NotFound", "NoSuchBucket":
		return backends.NotExist
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "Forbidden":
		return backends.Permission
	case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling", "RequestTimeTooSkewed":
		return backends.Transient
	}
	if k := objstore.KindOfStatus(status); k != backends.Unknown {
		return k
	}
	return backends.KindOf(err)
}
