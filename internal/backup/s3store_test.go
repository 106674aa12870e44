package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocsha/ocs-ha-operator/internal/backup/s3test"
)

func TestS3Endpoint(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"https with a port":           {"https://s3.example.com:9000", "https://s3.example.com:9000"},
		"a trailing slash is dropped": {"http://127.0.0.1:7070/", "http://127.0.0.1:7070"},
		"no scheme":                   {"s3.example.com", ""},
		"another scheme":              {"ftp://s3.example.com", ""},
		"a path":                      {"https://s3.example.com/bucket", ""},
		"credentials in the URL":      {"https://key:secret@s3.example.com", ""},
		"a query":                     {"https://s3.example.com?x=1", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s3Endpoint(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Errorf("s3Endpoint(%q) = %q, want an error", tt.in, got)
				}
				if strings.Contains(tt.in, "secret") && strings.Contains(err.Error(), "secret") {
					t.Errorf("the error repeats the credentials: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("s3Endpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// s3Shared is one versitygw for every S3 test of the package (TestMain stops it): each test gets
// a bucket of its own.
var (
	s3Once    sync.Once
	s3Shared  *s3test.Server
	s3Buckets atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if s3Shared != nil {
		s3Shared.Stop()
	}
	os.Exit(code)
}

// newS3Store returns a store in a new bucket of the shared server.
func newS3Store(t *testing.T, prefix string, lock *ObjectLock, now func() time.Time) (*S3Store, *s3test.Server, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs versitygw")
	}
	s3Once.Do(func() { s3Shared = s3test.StartShared(t) })
	if s3Shared == nil {
		t.Fatal("versitygw did not start")
	}
	bucket := fmt.Sprintf("test-%d", s3Buckets.Add(1))
	s3Shared.CreateBucket(t, bucket, lock != nil)
	s, err := NewS3Store(S3Options{
		Endpoint: s3Shared.Endpoint, Bucket: bucket, Prefix: prefix, Region: s3Shared.Region,
		AccessKeyID: s3Shared.AccessKeyID, SecretAccessKey: s3Shared.SecretAccessKey, PathStyle: true, Lock: lock, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, s3Shared, bucket
}

func TestS3Store(t *testing.T) {
	ctx := context.Background()
	s, srv, bucket := newS3Store(t, "backups/site-a", nil, nil)
	for _, k := range []string{"a/b/c", "a/b-d", "a/b/e", "a.x", "z"} {
		if err := s.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "a/b/c", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "a/b/c"); err != nil || string(got) != "replaced" {
		t.Fatalf("Get after overwrite = %q, %v", got, err)
	}
	if _, err := s.Get(ctx, "a/missing"); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get of a missing key: %v, want fs.ErrNotExist only", err)
	}
	lists := map[string][]string{
		"":      {"a.x", "a/b-d", "a/b/c", "a/b/e", "z"},
		"a/":    {"a/b-d", "a/b/c", "a/b/e"},
		"a/b":   {"a/b-d", "a/b/c", "a/b/e"},
		"a/b/":  {"a/b/c", "a/b/e"},
		"nope/": nil,
	}
	for prefix, want := range lists {
		got, err := s.List(ctx, prefix)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("List(%q) = %v, %v; want %v", prefix, got, err, want)
		}
	}
	if got := srv.Keys(t, bucket, ""); len(got) != 5 || !strings.HasPrefix(got[0], "backups/site-a/") {
		t.Errorf("objects in the bucket: %v, want 5 under the store's prefix", got)
	}
	u, err := s.Usage(ctx, "a/")
	if want := int64(len("replaced") + len("a/b-d") + len("a/b/e")); err != nil || u.Objects != 3 || u.Bytes != want {
		t.Errorf("Usage(a/) = %+v, %v; want 3 objects, %d bytes", u, err, want)
	}
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := s.Get(ctx, "a/b/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Delete: %v", err)
	}
	for _, k := range []string{"", "/abs", "../up", "a//b", "a/"} {
		if err := s.Put(ctx, k, nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestS3StoreErrorsAreBriefAndClassified(t *testing.T) {
	ctx := context.Background()
	good, srv, bucket := newS3Store(t, "", nil, nil)
	if err := good.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := good.Ping(ctx); err != nil {
		t.Fatalf("Ping of a good store: %v", err)
	}
	tests := map[string]struct {
		opts S3Options
		want string
	}{
		"a wrong secret key": {
			S3Options{Endpoint: srv.Endpoint, Bucket: bucket, AccessKeyID: srv.AccessKeyID, SecretAccessKey: "wrong-secret-value", PathStyle: true},
			"SignatureDoesNotMatch",
		},
		"a missing bucket": {
			S3Options{Endpoint: srv.Endpoint, Bucket: "no-such-bucket", AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey, PathStyle: true},
			"NoSuchBucket",
		},
		"nothing listening": {
			S3Options{Endpoint: "http://127.0.0.1:1", Bucket: bucket, AccessKeyID: "a", SecretAccessKey: "wrong-secret-value", PathStyle: true},
			"connection refused",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := NewS3Store(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Get(ctx, "k")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Get = %v, want ErrUnavailable mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), "RequestID") {
				t.Errorf("the error is not brief or repeats a secret: %v", err)
			}
			if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Ping = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestRepositoryOnS3(t *testing.T) {
	ctx := context.Background()
	s, srv, bucket := newS3Store(t, "ocs", nil, nil)
	repo := NewRepository(s, "default/nightly")
	users := pool(2, 20, v0)
	first, err := repo.Write(ctx, "p", t0, users, nil, []ConfigData{{Name: "global.xml", Data: []byte("<g/>")}})
	if err != nil {
		t.Fatal(err)
	}
	users[sip(3)] = UserData{Server: "ocs2", Data: contactExport(3, 1, 20), Contacts: 20}
	second, err := repo.Write(ctx, "p", t0.Add(time.Hour), users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, m, _, err := repo.NewestFor(ctx, sip(3), t0.Add(2*time.Hour))
	if err != nil || m.Name != second.Name || string(data) != string(users[sip(3)].Data) {
		t.Fatalf("NewestFor = %s, %v", m.Name, err)
	}
	rep, err := repo.Verify(ctx, second, acceptAll)
	if err != nil || !rep.OK() || rep.Users != 40 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	before := len(srv.Keys(t, bucket, "ocs/default/nightly/"))
	st, err := repo.Stats(ctx)
	if err != nil || st.Objects != before || st.StoredBytes != first.Added+second.Added {
		t.Errorf("Stats = %+v, %v; want %d objects, %d bytes", st, err, before, first.Added+second.Added)
	}

	// Retention drops the first snapshot: its manifest, its configuration file and the old
	// document of the changed user go; nothing else does.
	removed, err := repo.Prune(ctx, []*Manifest{first})
	if err != nil {
		t.Fatal(err)
	}
	after := srv.Keys(t, bucket, "ocs/default/nightly/")
	if removed != 2 || len(after) != before-3 {
		t.Errorf("Prune removed %d blobs, objects %d → %d; want 2 blobs and 3 objects fewer", removed, before, len(after))
	}
	if _, err := repo.ReadUser(ctx, second, sip(7)); err != nil {
		t.Errorf("the kept snapshot lost a user: %v", err)
	}
}

func TestS3ObjectLock(t *testing.T) {
	ctx := context.Background()
	// The server refuses lock dates in its past: the test's clock starts at the real time.
	start := time.Now().UTC().Truncate(time.Second)
	now := start
	clock := func() time.Time { return now }
	lock := &ObjectLock{Mode: LockGovernance, Period: 48 * time.Hour}
	s, srv, bucket := newS3Store(t, "", lock, clock)
	repo := NewRepository(s, "ns/b")
	users := pool(1, 4, v0)
	if _, err := repo.Write(ctx, "p", now, users, nil, nil); err != nil {
		t.Fatal(err)
	}
	blob := repo.blobKey(digestOf(users[sip(1)].Data))
	retainUntil := func() time.Time {
		t.Helper()
		out, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(blob)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToTime(out.ObjectLockRetainUntilDate)
	}
	if got := retainUntil(); !got.Equal(start.Add(48 * time.Hour)) {
		t.Fatalf("a new blob is locked until %s, want %s", got, start.Add(48*time.Hour))
	}

	// A version under lock cannot be deleted, even by the root user.
	versions := srv.Versions(t, bucket, blob)
	if len(versions) != 1 {
		t.Fatalf("versions of %s: %d", blob, len(versions))
	}
	_, err := srv.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(blob), VersionId: versions[0].VersionId})
	if err == nil {
		t.Fatal("a locked version was deleted")
	}

	// A day later the next snapshot reuses the blob: its lock is not touched yet (more than half
	// the period is left). Two days later it is extended to a full period from then.
	now = start.Add(20 * time.Hour)
	if _, err := NewRepository(mustS3(t, s), "ns/b").Write(ctx, "p", now, users, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := retainUntil(); !got.Equal(start.Add(48 * time.Hour)) {
		t.Errorf("after 20h the lock ends %s, want it unchanged", got)
	}
	now = start.Add(30 * time.Hour)
	if _, err := NewRepository(mustS3(t, s), "ns/b").Write(ctx, "p", now, users, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := retainUntil(); !got.Equal(now.Add(48 * time.Hour)) {
		t.Errorf("after 30h the lock ends %s, want %s", got, now.Add(48*time.Hour))
	}

	// Retention still works: a delete leaves a marker, and the locked data stays underneath.
	if err := s.Delete(ctx, blob); err != nil {
		t.Fatalf("Delete under lock: %v", err)
	}
	if _, err := s.Get(ctx, blob); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
	if got := srv.Versions(t, bucket, blob); len(got) != 1 {
		t.Errorf("the locked version is gone: %d versions", len(got))
	}
}

// mustS3 returns a new store like s: a new process (a restarted manager) remembers no lock dates.
func mustS3(t *testing.T, s *S3Store) *S3Store {
	t.Helper()
	return &S3Store{client: s.client, bucket: s.bucket, prefix: s.prefix, lock: s.lock, now: s.now, lockedUntil: map[string]time.Time{}}
}
