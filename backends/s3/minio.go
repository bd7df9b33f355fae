package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
)

// minioClient is minio-go/v7. Core's GetObject sends the request at once,
// unlike Client.GetObject, which defers it to the first Read: the backend
// needs the 416 of a range past the end at Open.
type minioClient struct {
	c          *minio.Core
	bucket     string
	partBytes  int64
	partConcur int
}

func newMinio(s settings) (client, error) {
	endpoint := s.endpoint
	if endpoint == "" {
		endpoint = "https://s3." + s.region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if s.explicit {
		creds = credentials.NewStaticV4(s.access, s.secret, "")
	} else {
		chain := []credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.EnvMinio{},
		}
		if s.metadata {
			// The variable the AWS SDKs read, so both clients ask the same address.
			chain = append(chain, &credentials.IAM{Client: s.http, Endpoint: os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")})
		}
		creds = credentials.NewChainCredentials(chain)
		// The chain answers "anonymous" when it finds nothing: say so
		// now rather than as AccessDenied from the store.
		if v, err := creds.GetWithContext(&credentials.CredContext{Client: s.http}); err != nil || v.AccessKeyID == "" {
			if err == nil {
				err = errors.New("the credential chain found none")
			}
			return nil, noCredentials(s, "minio", err)
		}
	}
	lookup := minio.BucketLookupAuto
	if s.pathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.NewCore(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Transport:    s.http.Transport,
		Region:       s.region,
		BucketLookup: lookup,
		MaxRetries:   objstore.MaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client for %s: %w", endpoint, err)
	}
	return &minioClient{c: c, bucket: s.bucket, partBytes: s.opts.PartBytes, partConcur: s.opts.PartConcurrency}, nil
}

func (c *minioClient) get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	switch {
	case n > 0:
		opts.SetRange(off, off+n-1)
	case off > 0:
		opts.SetRange(off, 0)
	}
	rc, _, _, err := c.c.GetObject(ctx, c.bucket, key, opts)
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return nil, fmt.Errorf("%w: %v", objstore.ErrPastEnd, err)
		}
		return nil, err
	}
	return rc, nil
}

func (c *minioClient) putOptions() minio.PutObjectOptions {
	return minio.PutObjectOptions{
		PartSize:              uint64(c.partBytes),
		NumThreads:            uint(c.partConcur),
		ConcurrentStreamParts: c.partConcur > 1,
		DisableContentSha256:  true,
	}
}

func (c *minioClient) put(ctx context.Context, key string, data []byte) error {
	_, err := c.c.Client.PutObject(ctx, c.bucket, key, bytes.NewReader(data), int64(len(data)), c.putOptions())
	return err
}

func (c *minioClient) putStream(ctx context.Context, key string, body io.Reader, size int64) error {
	_, err := c.c.Client.PutObject(ctx, c.bucket, key, body, size, c.putOptions())
	return err
}

func (c *minioClient) head(ctx context.Context, key string) (int64, error) {
	info, err := c.c.StatObject(ctx, c.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, err
	}
	return info.Size, nil
}

func (c *minioClient) del(ctx context.Context, key string) error {
	return c.c.RemoveObject(ctx, c.bucket, key, minio.RemoveObjectOptions{})
}

var errNoBucket = errors.New("NoSuchBucket: the bucket does not exist")

func (c *minioClient) headBucket(ctx context.Context) error {
	ok, err := c.c.BucketExists(ctx, c.bucket)
	if err == nil && !ok {
		return errNoBucket
	}
	return err
}

func (c *minioClient) kind(err error) backends.Kind {
	if errors.Is(err, errNoBucket) {
		return backends.NotExist
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return backends.KindOf(err)
	}
	return classify(er.StatusCode, er.Code, err)
}
