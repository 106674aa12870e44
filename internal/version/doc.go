// Package version holds the release version and source revision stamped into the binary at
// build time (go build -ldflags "-X ...=...", as make image and the Dockerfile do).
package version
