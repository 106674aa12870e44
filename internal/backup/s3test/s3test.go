// Package s3test starts a real S3 server, versitygw with a POSIX backend, on loopback for tests,
// building it first with hack/setup-versitygw.sh when it is not cached.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// T is what Start needs of a test: *testing.T and Ginkgo's GinkgoT() both fit.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:<port>.
	Endpoint string
	// AccessKeyID and SecretAccessKey are the root user's credentials.
	AccessKeyID, SecretAccessKey string
	// Region is the region the server signs with.
	Region string

	cmd       *exec.Cmd
	exited    chan error
	removeDir string
	client    *s3.Client
	log       *lockedBuffer
}

const region = "us-east-1"

// Start builds (once per machine) and starts versitygw on a free loopback port with its data in
// a temporary directory, and stops it when the test ends.
func Start(t T) *Server {
	t.Helper()
	s := start(t, t.TempDir())
	t.Cleanup(s.Stop)
	return s
}

// StartShared is Start for a server that outlives the test starting it, shared by a package's
// tests: the caller stops it with Stop (in TestMain, after m.Run), which removes its data too.
func StartShared(t T) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "versitygw-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	s := start(t, dir)
	s.removeDir = dir
	return s
}

func start(t T, dir string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("building versitygw: %v", err)
	}
	for _, d := range []string{"data", "meta", "versions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatalf("%v", err)
		}
	}
	s := &Server{AccessKeyID: "ocsha" + randomHex(4), SecretAccessKey: randomHex(20), Region: region, log: &lockedBuffer{}}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		// The sidecar keeps metadata in files: extended attributes are not on every filesystem.
		s.cmd = exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", region, "--quiet",
			"posix", "--sidecar", filepath.Join(dir, "meta"), "--versioning-dir", filepath.Join(dir, "versions"),
			filepath.Join(dir, "data"))
		s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKeyID, "ROOT_SECRET_KEY="+s.SecretAccessKey)
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		s.cmd.SysProcAttr = dieWithParent()
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("starting versitygw: %v", err)
		}
		err = s.waitReady(30 * time.Second)
		if err == nil {
			break
		}
		s.Stop()
		if attempt == 2 {
			t.Fatalf("versitygw did not start: %v\n%s", err, s.log.String())
		}
		// Another process took the port between our probe and versitygw's bind: try another.
	}
	s.client = s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, nil
		}),
	})
	return s
}

// Binary returns the path of the versitygw binary, building it if needed.
func Binary() (string, error) {
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "hack", "setup-versitygw.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			buildErr = fmt.Errorf("%w: %s", err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		binPath = lines[len(lines)-1]
	})
	return binPath, buildErr
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// repoRoot finds the directory of this module's go.mod from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/ocsha/ocs-ha-operator\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the repository root (go.mod) is not above the working directory")
		}
		dir = parent
	}
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	exited := make(chan error, 1)
	s.exited = exited
	go func() { exited <- s.cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			s.cmd.Process = nil
			return fmt.Errorf("versitygw exited: %w", err)
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // polling a process that is starting: nothing to wait on
	}
}

// Stop ends the server (and removes the data of a shared one).
func (s *Server) Stop() {
	if s.removeDir != "" {
		defer os.RemoveAll(s.removeDir)
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd.Process = nil
}

// CreateBucket creates a bucket; with objectLock it has S3 Object Lock (and versioning) enabled.
func (s *Server) CreateBucket(t T, name string, objectLock bool) {
	t.Helper()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s.client.CreateBucket(context.Background(), in); err != nil {
		t.Fatalf("creating bucket %s: %v\n%s", name, err, s.log.String())
	}
}

// Keys lists the current objects of bucket under prefix.
func (s *Server) Keys(t T, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Client is an S3 client with the root user's credentials, for what the helpers do not cover.
func (s *Server) Client() *s3.Client { return s.client }

// Versions lists every version of key in bucket (newest first), delete markers included.
func (s *Server) Versions(t T, bucket, key string) []types.ObjectVersion {
	t.Helper()
	out, err := s.client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatalf("listing versions of s3://%s/%s: %v", bucket, key, err)
	}
	var vs []types.ObjectVersion
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			vs = append(vs, v)
		}
	}
	return vs
}

// Log returns what versitygw printed.
func (s *Server) Log() string { return s.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
