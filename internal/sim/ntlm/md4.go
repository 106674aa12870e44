package ntlm

import (
	"encoding/binary"
	"math/bits"
)

// md4Sum returns the MD4 digest (RFC 1320) of b. NTOWF is defined on MD4 and the standard library
// has none; the input is at most a password, so a one-shot function is enough.
func md4Sum(b []byte) [16]byte {
	msg := make([]byte, 0, len(b)+72)
	msg = append(msg, b...)
	msg = append(msg, 0x80)
	for len(msg)%64 != 56 {
		msg = append(msg, 0)
	}
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(b))*8)

	a, bb, c, d := uint32(0x67452301), uint32(0xefcdab89), uint32(0x98badcfe), uint32(0x10325476)
	var x [16]uint32
	for off := 0; off < len(msg); off += 64 {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[off+4*i:])
		}
		aa, b0, cc, dd := a, bb, c, d

		f := func(x, y, z uint32) uint32 { return x&y | ^x&z }
		g := func(x, y, z uint32) uint32 { return x&y | x&z | y&z }
		h := func(x, y, z uint32) uint32 { return x ^ y ^ z }

		// Round 1: k in natural order, shifts 3 7 11 19.
		for i := 0; i < 16; i += 4 {
			a = bits.RotateLeft32(a+f(bb, c, d)+x[i], 3)
			d = bits.RotateLeft32(d+f(a, bb, c)+x[i+1], 7)
			c = bits.RotateLeft32(c+f(d, a, bb)+x[i+2], 11)
			bb = bits.RotateLeft32(bb+f(c, d, a)+x[i+3], 19)
		}
		// Round 2: k by columns, shifts 3 5 9 13.
		for i := 0; i < 4; i++ {
			a = bits.RotateLeft32(a+g(bb, c, d)+x[i]+0x5a827999, 3)
			d = bits.RotateLeft32(d+g(a, bb, c)+x[i+4]+0x5a827999, 5)
			c = bits.RotateLeft32(c+g(d, a, bb)+x[i+8]+0x5a827999, 9)
			bb = bits.RotateLeft32(bb+g(c, d, a)+x[i+12]+0x5a827999, 13)
		}
		// Round 3: k in bit-reversed order, shifts 3 9 11 15.
		for _, i := range [4]int{0, 2, 1, 3} {
			a = bits.RotateLeft32(a+h(bb, c, d)+x[i]+0x6ed9eba1, 3)
			d = bits.RotateLeft32(d+h(a, bb, c)+x[i+8]+0x6ed9eba1, 9)
			c = bits.RotateLeft32(c+h(d, a, bb)+x[i+4]+0x6ed9eba1, 11)
			bb = bits.RotateLeft32(bb+h(c, d, a)+x[i+12]+0x6ed9eba1, 15)
		}
		a, bb, c, d = a+aa, bb+b0, c+cc, d+dd
	}
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], a)
	binary.LittleEndian.PutUint32(out[4:], bb)
	binary.LittleEndian.PutUint32(out[8:], c)
	binary.LittleEndian.PutUint32(out[12:], d)
	return out
}
