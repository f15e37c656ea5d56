package template

import (
	"errors"
	"strings"
	gotemplate "text/template"
)

// execErrorLocation reduces a text/template execution error to what it says
// about the template: "template: NAME:LINE:COL: executing "NAME" at
// <ACTION>", followed by the failing function's name, or the engine's own
// reason when no function was called. A function's error text is dropped
// because functions like fail, b64dec or fromJson may quote their argument,
// which can be a secret value; so are the values the engine itself quotes
// in a few reasons. This package's own functions' errors that hold only
// template text (sourceError) are kept.
//
// The searches are for ">: " followed by a known reason: ACTION is template
// source and may hold anything, but a match inside it only cuts the message
// earlier, never later.
func execErrorLocation(ee gotemplate.ExecError) string {
	msg := ee.Err.Error()
	const calling = ">: error calling "
	if i := strings.Index(msg, calling); i >= 0 {
		name, _, _ := strings.Cut(msg[i+len(calling):], ":")
		loc := msg[:i+1] + ": error calling " + name
		// Found by type, not in the text: this package's own errors
		// that hold only template text.
		var se *sourceError
		if errors.As(ee.Err, &se) {
			return loc + ": " + se.Error()
		}
		return loc
	}
	for _, p := range valueQuotingReasons {
		if i := strings.Index(msg, ">: "+p); i >= 0 {
			return msg[:i+1] + ": " + p + " value"
		}
	}
	if !strings.Contains(msg, ">: ") {
		return "template: " + ee.Name + ": execution failed"
	}
	// The other reasons (missing field, wrong type, nil pointer) describe
	// types and names from the template source, not values.
	return msg
}

// valueQuotingReasons are the text/template execution errors that format
// a data value with %v.
var valueQuotingReasons = []string{
	"range can't iterate over",
	"range over send-only channel",
	"if/with can't use",
	"can't use",
}
