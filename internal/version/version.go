package version

var (
	// Version is the release, e.g. v0.1.0; "dev" in a build that was not stamped.
	Version = "dev"
	// Revision is the source commit of the build; "unknown" when not stamped.
	Revision = "unknown"
)
