package contacts

// Details of the formats that no document confirms. They are reconstructions; keeping them in one
// file makes a correction one edit.

const (
	// docItemSetNamespace is the default namespace written on a DocItemSet root. The real value was
	// not found; parsing ignores namespaces for this reason.
	docItemSetNamespace = "urn:schema:Microsoft.Rtc.Management.ScopeFramework.2008"

	// docItemSetVersion is the Version attribute written on a DocItemSet root.
	docItemSetVersion = "1.0"

	// userDataHomedResourceNamespace is the namespace of HomedResource inside a DocItemSet's Data.
	userDataHomedResourceNamespace = "urn:schema:Microsoft.Rtc.Management.UserData.2008"

	// docItemSetEntry is the name of the part holding the DocItemSet inside an Export-CsUserData ZIP.
	docItemSetEntry = "DocItemSet.xml"

	// contactDisplayNameAttr carries a contact's base64 display name. It is seen in DocItemSet; that
	// dbimpexp writes it too is assumed, and it is written only when non-empty.
	contactDisplayNameAttr = "DisplayName"
)
