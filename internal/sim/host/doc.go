// Package host emulates OCS 2007 R2 and Skype for Business servers sharing one directory: their
// contact databases, services and the programs (sc, dbimpexp, lcscmd, powershell) the operator runs.
package host
