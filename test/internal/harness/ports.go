package harness

import (
	"errors"
	"fmt"
	"net"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeConsecutivePorts finds n free consecutive ports and returns the first: the emulator gives
// server i the port base+i.
func FreeConsecutivePorts(n int) (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		base, err := FreePort()
		if err != nil {
			return 0, err
		}
		if portsFree(base+1, n-1) {
			return base, nil
		}
	}
	return 0, errors.New("no free consecutive ports")
}

func portsFree(from, n int) bool {
	for p := from; p < from+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}
