// Package sipprobe asks a PSTN gateway or SIP trunk whether it is alive with a SIP OPTIONS request.
package sipprobe
