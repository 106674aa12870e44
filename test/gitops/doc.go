// Package gitops checks how GitOps tools read the operator's objects: the Argo CD health
// script in config/argocd and kstatus (used by Flux and kpt), on objects recorded from the
// end-to-end run.
package gitops
