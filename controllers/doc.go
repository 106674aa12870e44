// Package controllers holds one thin reconciler per kind of the ocs.ocsha.io group: each reads
// its object, decides with a pure function, acts through the admin agent and writes status once.
package controllers
