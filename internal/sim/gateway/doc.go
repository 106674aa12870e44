// Package gateway emulates PSTN gateways (or SIP trunks) that answer SIP OPTIONS on loopback.
package gateway
