//go:build !linux

package s3test

import "syscall"

// dieWithParent has no equivalent outside Linux: Stop must run.
func dieWithParent() *syscall.SysProcAttr { return nil }
