// Package v1alpha1 contains the API of the ocs.ocsha.io group: OCSPool, UserHoming and ContactBackup.
// +kubebuilder:object:generate=true
// +groupName=ocs.ocsha.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "ocs.ocsha.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this group-version; the API package depends on
	// apimachinery only, so it does not use controller-runtime's builder.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&OCSPool{}, &OCSPoolList{},
		&UserHoming{}, &UserHomingList{},
		&ContactBackup{}, &ContactBackupList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
