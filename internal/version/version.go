// Package version holds the build's version, stamped by the linker.
package version

import "runtime/debug"

// Version is the sealsync release, set at link time with
// -ldflags "-X github.com/sealsync/sealsync/internal/version.Version=v1.2.3".
// Without it the module version from the build info is used, else "devel".
var Version = ""

// String returns the version to print.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
