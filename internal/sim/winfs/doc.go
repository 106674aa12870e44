// Package winfs is the in-memory file system of one emulated Windows server.
package winfs
