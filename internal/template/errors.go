package template

import (
	"strings"
	gotemplate "text/template"
)

// execErrorLocation reduces a text/template execution error to what it says
// about the template: "template: NAME:LINE:COL: executing "NAME" at
// <ACTION>", followed by the failing function's name, or the engine's own
// reason when no function was called. A function's error text is dropped
// because functions like fail, b64dec or fromJson may quote their argument,
// which can be a secret value.
func execErrorLocation(ee gotemplate.ExecError) string {
	msg := ee.Err.Error()
	loc, reason, ok := strings.Cut(msg, ">: ")
	if !ok {
		return "template: " + ee.Name + ": execution failed"
	}
	loc += ">"
	if fn, ok := strings.CutPrefix(reason, "error calling "); ok {
		name, _, _ := strings.Cut(fn, ":")
		return loc + ": error calling " + name
	}
	// The engine's own reasons (missing field, wrong type, nil pointer)
	// describe types and names from the template source, not values.
	return loc + ": " + reason
}
