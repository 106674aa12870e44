package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the referenced object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PoolReference names the OCSPool an object works on. It cannot change: a UserHoming or
// ContactBackup pointed at another pool would mix two pools' state in one status.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="poolRef is immutable: create a new object for another pool"
type PoolReference struct {
	// Name of the OCSPool in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// CommonStatus holds the fields every kind of this group reports.
type CommonStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled and, where it applies, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase is a one-word summary derived from the conditions, for printer columns only.
	// +optional
	Phase string `json:"phase,omitempty"`
}
