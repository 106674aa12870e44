package backup

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // S3 asks for Content-MD5 with Object Lock; it checks transport, not trust
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// LockMode is an S3 Object Lock retention mode.
type LockMode string

// Object Lock modes: in Governance mode a user with s3:BypassGovernanceRetention may still delete
// a version early; in Compliance mode nobody can until it expires.
const (
	LockGovernance LockMode = "GOVERNANCE"
	LockCompliance LockMode = "COMPLIANCE"
)

// ObjectLock asks that every object be protected from deletion and overwrite for Period after it
// was last part of a snapshot.
type ObjectLock struct {
	Mode   LockMode
	Period time.Duration
}

// S3Options configures an S3Store.
type S3Options struct {
	// Endpoint is the service's base URL, http(s)://host[:port], without a path.
	Endpoint string
	Bucket   string
	// Prefix is put before every key ("" for the bucket's root).
	Prefix string
	// Region signs the requests; "" means us-east-1, which most S3-compatible servers accept.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken (optional) are the credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	// CACert is a PEM bundle that verifies the endpoint's certificate; nil means the system roots.
	CACert []byte
	// PathStyle addresses objects as endpoint/bucket/key instead of bucket.endpoint/key, as most
	// S3-compatible servers reached by IP address or a single host name need.
	PathStyle bool
	// Lock, when not nil, writes every object under S3 Object Lock (the bucket must have it enabled).
	Lock *ObjectLock
	// Now is the clock of Object Lock dates; nil means time.Now.
	Now func() time.Time
}

// S3Store is a Store in an S3 bucket, one object per key. A PUT is atomic in S3: readers see the
// old object or the new one, which is what Store.Put promises.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string
	lock   *ObjectLock
	now    func() time.Time

	// lockedUntil remembers the Object Lock expiry seen for a key, so that keeping a reused blob
	// locked costs no request when it was just read or written.
	mu          sync.Mutex
	lockedUntil map[string]time.Time
}

var (
	_ Store  = (*S3Store)(nil)
	_ Locker = (*S3Store)(nil)
)

// maxObjectSize bounds what Get reads: more than any blob or manifest this package writes.
const maxObjectSize = maxDecoded

// NewS3Store returns a store in opts.Bucket. It sends no request: the first operation tells
// whether the endpoint, bucket and credentials are right.
func NewS3Store(opts S3Options) (*S3Store, error) {
	endpoint, err := s3Endpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if opts.Bucket == "" {
		return nil, errors.New("S3 bucket is empty")
	}
	if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		return nil, errors.New("S3 credentials are empty")
	}
	if opts.Lock != nil && (opts.Lock.Period <= 0 || opts.Lock.Mode != LockGovernance && opts.Lock.Mode != LockCompliance) {
		return nil, fmt.Errorf("S3 Object Lock needs a mode (%s or %s) and a positive period", LockGovernance, LockCompliance)
	}
	httpClient, err := s3HTTPClient(opts.CACert)
	if err != nil {
		return nil, err
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	creds := aws.Credentials{AccessKeyID: opts.AccessKeyID, SecretAccessKey: opts.SecretAccessKey, SessionToken: opts.SessionToken}
	client := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: opts.PathStyle,
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		HTTPClient:   httpClient,
		// Many S3-compatible servers reject the SDK's default trailing checksums; Put sends
		// Content-MD5 instead, which every S3 server checks and Object Lock requires, and reads
		// are checked against their SHA-256 by the repository.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &S3Store{
		client:      client,
		bucket:      opts.Bucket,
		prefix:      strings.Trim(opts.Prefix, "/"),
		lock:        opts.Lock,
		now:         now,
		lockedUntil: map[string]time.Time{},
	}, nil
}

// s3Endpoint checks that endpoint is an http(s) URL naming a host and nothing else.
func s3Endpoint(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	// The messages never repeat the endpoint: it could hold credentials (user:password@host).
	switch {
	case err != nil:
		return "", errors.New("the S3 endpoint is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("the S3 endpoint's scheme must be http or https")
	case u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("the S3 endpoint must be scheme://host[:port] only (no credentials, path or query)")
	}
	return u.Scheme + "://" + u.Host, nil
}

// s3HTTPClient returns the SDK's HTTP client, trusting caPEM when given.
func s3HTTPClient(caPEM []byte) (*awshttp.BuildableClient, error) {
	c := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second })
	if len(caPEM) == 0 {
		return c, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("S3 CA bundle holds no PEM certificate")
	}
	return c.WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}), nil
}

func (s *S3Store) objectKey(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	if s.prefix == "" {
		return key, nil
	}
	return s.prefix + "/" + key, nil
}

// Ping checks that the bucket exists and the credentials may use it, with one request that
// writes nothing (a write probe would leave a locked version behind under Object Lock).
func (s *S3Store) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	var notFound *types.NotFound
	var api smithy.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound), errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchBucket"):
		// A HEAD answer has no body: the SDK can only say "NotFound".
		return fmt.Errorf("%w: S3 HeadBucket s3://%s: NoSuchBucket: the bucket does not exist", ErrUnavailable, s.bucket)
	}
	return s.fail(ctx, "HeadBucket", "", err)
}

// Put uploads data in one PUT with its MD5, so that the server refuses a damaged upload.
func (s *S3Store) Put(ctx context.Context, key string, data []byte) error {
	name, err := s.objectKey(key)
	if err != nil {
		return err
	}
	sum := md5.Sum(data) //nolint:gosec // see the import
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(name),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}
	var until time.Time
	if s.lock != nil {
		until = s.now().Add(s.lock.Period).UTC()
		in.ObjectLockMode = types.ObjectLockMode(s.lock.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(until)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.fail(ctx, "PutObject", name, err)
	}
	if s.lock != nil {
		s.remember(key, until)
	}
	return nil
}

// Get downloads the object of key.
func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	name, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
	if err != nil {
		return nil, s.fail(ctx, "GetObject", name, err)
	}
	defer out.Body.Close()
	if out.ObjectLockRetainUntilDate != nil {
		s.remember(key, *out.ObjectLockRetainUntilDate)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, maxObjectSize+1))
	if err != nil {
		return nil, s.fail(ctx, "GetObject", name, err)
	}
	if len(data) > maxObjectSize {
		return nil, fmt.Errorf("%w: s3://%s/%s is larger than %d bytes", ErrCorrupt, s.bucket, name, maxObjectSize)
	}
	return data, nil
}

// List pages through ListObjectsV2.
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.walk(ctx, prefix, func(key string, _ int64) { keys = append(keys, key) })
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

// Usage sums the sizes that ListObjectsV2 reports.
func (s *S3Store) Usage(ctx context.Context, prefix string) (Usage, error) {
	var u Usage
	err := s.walk(ctx, prefix, func(_ string, size int64) {
		u.Objects++
		u.Bytes += size
	})
	return u, err
}

// walk calls fn for every object whose key starts with prefix, with the key relative to the
// store's prefix.
func (s *S3Store) walk(ctx context.Context, prefix string, fn func(key string, size int64)) error {
	full := prefix
	if s.prefix != "" {
		full = s.prefix + "/" + prefix
	}
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.fail(ctx, "ListObjectsV2", full, err)
		}
		for _, o := range page.Contents {
			name := aws.ToString(o.Key)
			key := name
			if s.prefix != "" {
				var ok bool
				if key, ok = strings.CutPrefix(name, s.prefix+"/"); !ok {
					continue
				}
			}
			fn(key, aws.ToInt64(o.Size))
		}
	}
	return nil
}

// Delete removes the object of key. In a bucket with versioning (always so with Object Lock) it
// adds a delete marker: the data stays until its lock expires and a lifecycle rule removes it.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	name, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)}); err != nil {
		return s.fail(ctx, "DeleteObject", name, err)
	}
	s.mu.Lock()
	delete(s.lockedUntil, key)
	s.mu.Unlock()
	return nil
}

// KeepLocked makes sure an existing object stays locked for about the lock period from now: a
// blob written long ago that a new snapshot still uses must not become deletable before the
// snapshot does. It extends the lock only once half the period has passed, so that a blob shared
// by every snapshot costs one request per half period, not one per snapshot.
func (s *S3Store) KeepLocked(ctx context.Context, key string) error {
	if s.lock == nil {
		return nil
	}
	name, err := s.objectKey(key)
	if err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	until, known := s.lockedUntil[key]
	s.mu.Unlock()
	if !known {
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
		if err != nil {
			return s.fail(ctx, "HeadObject", name, err)
		}
		until = aws.ToTime(out.ObjectLockRetainUntilDate)
	}
	if until.After(now.Add(s.lock.Period / 2)) {
		s.remember(key, until)
		return nil
	}
	until = now.Add(s.lock.Period).UTC()
	_, err = s.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(name),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionMode(s.lock.Mode), RetainUntilDate: aws.Time(until)},
	})
	if err != nil {
		return s.fail(ctx, "PutObjectRetention", name, err)
	}
	s.remember(key, until)
	return nil
}

func (s *S3Store) remember(key string, until time.Time) {
	s.mu.Lock()
	s.lockedUntil[key] = until
	s.mu.Unlock()
}

// fail turns an SDK error into a short one: a missing key wraps fs.ErrNotExist (as FileStore's
// do), a cancelled context is returned as is, anything else wraps ErrUnavailable.
func (s *S3Store) fail(ctx context.Context, op, name string, err error) error {
	target := "s3://" + s.bucket + "/" + name
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	var api smithy.APIError
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound),
		errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"):
		return fmt.Errorf("%s %s: %w", op, target, fs.ErrNotExist)
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", op, target, ctx.Err())
	}
	return &s3Error{op: op, target: target, err: err}
}

// s3Error is a failed S3 request. Its text is brief: the SDK's own carries request IDs and
// retry details that would make every status message differ.
type s3Error struct {
	op, target string
	err        error
}

func (e *s3Error) Error() string {
	return "S3 " + e.op + " " + e.target + ": " + describeS3Error(e.err)
}

func (e *s3Error) Unwrap() []error { return []error{ErrUnavailable, e.err} }

func describeS3Error(err error) string {
	var api smithy.APIError
	var resp *awshttp.ResponseError
	var netErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "TLS: the endpoint's certificate did not verify: " + innermost(err).Error()
	case errors.As(err, &netErr):
		return netErr.Error()
	case errors.As(err, &api):
		text := api.ErrorCode()
		if msg := api.ErrorMessage(); msg != "" {
			text += ": " + msg
		}
		if errors.As(err, &resp) {
			text += fmt.Sprintf(" (HTTP %d)", resp.HTTPStatusCode())
		}
		return text
	case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusForbidden:
		return "access denied (HTTP 403): check the credentials and the bucket's policy"
	case errors.As(err, &resp) && resp.HTTPStatusCode() > 0:
		return fmt.Sprintf("HTTP %d", resp.HTTPStatusCode())
	}
	return innermost(err).Error()
}

// innermost follows single-error wrapping to the root cause.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
