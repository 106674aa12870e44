// Package cli holds the commands of the kubectl ocs plugin: one screen of a pool's status,
// maintenance, approvals, on-demand backups and restore drills, and support bundles.
package cli
