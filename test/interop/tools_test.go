package interop_test

import (
	"testing"

	"github.com/sealsync/sealsync/internal/testkit"
)

func testToolPath(t *testing.T) string { return testkit.Tool(t, "kubeseal", "kubeseal") }
