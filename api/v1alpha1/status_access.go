package v1alpha1

// GetCommonStatus returns the status fields shared by all kinds.
func (p *OCSPool) GetCommonStatus() *CommonStatus { return &p.Status.CommonStatus }

// GetCommonStatus returns the status fields shared by all kinds.
func (h *UserHoming) GetCommonStatus() *CommonStatus { return &h.Status.CommonStatus }

// GetCommonStatus returns the status fields shared by all kinds.
func (b *ContactBackup) GetCommonStatus() *CommonStatus { return &b.Status.CommonStatus }
