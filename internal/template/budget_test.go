package template_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/template"
)

// hostile are templates written to exhaust the controller: the template
// text is tenant-controlled (a SealedSecret's spec.template.data, an
// ExternalSecret's target.template, templateFrom or rewrite transform),
// as is the data in the ESO case (the tenant's own provider values).
// Each must stop with a budget error.
var hostile = []struct{ name, text string }{
	{"range over a huge integer", `{{ range 100000000000 }}{{ end }}`},
	{"nested until", `{{ range until 65536 }}{{ range until 65536 }}{{ end }}{{ end }}`},
	{"nested range over integers", `{{ range 100000 }}{{ range 100000 }}{{ range 100000 }}x{{ end }}{{ end }}{{ end }}`},
	{"cat doubling", `{{ $x := "ab" }}{{ range 64 }}{{ $x = cat $x $x }}{{ end }}{{ $x }}`},
	{"printf doubling", `{{ $x := "ab" }}{{ range 64 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ $x }}`},
	{"print doubling", `{{ $x := "ab" }}{{ range 64 }}{{ $x = print $x $x }}{{ end }}`},
	{"repeat", `{{ repeat 1000000000 "abc" }}`},
	{"repeat doubling", `{{ $x := "ab" }}{{ range 64 }}{{ $x = repeat 2 $x }}{{ end }}`},
	{"replace doubling", `{{ $x := "a" }}{{ range 64 }}{{ $x = replace "a" "aa" $x }}{{ end }}`},
	{"replace empty old", `{{ $x := repeat 100000 "a" }}{{ replace "" (repeat 100 "b") $x }}`},
	{"join with a huge separator", `{{ join (repeat 1000000 "x") (until 1000) }}`},
	{"regexReplaceAll expansion", `{{ $x := repeat 10000 "a" }}{{ regexReplaceAll "(a*)" $x (repeat 1000 "$1") }}`},
	{"regexReplaceAll doubling", `{{ $x := "a" }}{{ range 64 }}{{ $x = regexReplaceAll "a" $x "aa" }}{{ end }}`},
	{"regexp program blowup", `{{ regexMatch (repeat 1000 "a{1000}") (repeat 10000 "a") }}`},
	{"regexp compile blowup", `{{ regexMatch (repeat 1000 "[a-z]{1,1000}") "x" }}`},
	{"printf width", `{{ printf "%0999999999d" 1 }}`},
	{"printf star width", `{{ printf "%*d" 999999999 1 }}`},
	{"printf many widths", `{{ printf "` + strings.Repeat("%0999999d", 20) + `" 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 }}`},
	{"concat doubling", `{{ $l := list 1 }}{{ range 64 }}{{ $l = concat $l $l }}{{ end }}`},
	{"append doubling", `{{ $l := list "x" }}{{ range 64 }}{{ $l = append $l $l }}{{ end }}{{ toJson $l }}`},
	{"list nesting", `{{ $l := list }}{{ range 100000 }}{{ $l = list $l }}{{ end }}{{ toPrettyJson $l }}`},
	{"recursion", `{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}`},
	{"branching recursion", `{{ define "r" }}{{ template "r" . }}{{ template "r" . }}{{ end }}{{ template "r" . }}`},
	{"deep else if chain", `{{ if false }}` + strings.Repeat(`{{ else if false }}`, 2000) + `{{ end }}`},
	{"deep nesting", strings.Repeat(`{{ if true }}`, 2000) + strings.Repeat(`{{ end }}`, 2000)},
	{"deep nesting behind a fake end", strings.Repeat(`{{ if true }}{{ "{{ end }}" }}`, 2000) + strings.Repeat(`{{ end }}`, 2000)},
	{"deep parentheses", strings.Repeat(`{{ (`, 1) + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5001) + " }}"},
	{"aliased dict grows", aliased + `{{ $l }}`},
	{"aliased dict through toJson", aliased + `{{ toJson $l }}`},
	{"aliased dict through a template", aliased + `{{ define "p" }}{{ . }}{{ end }}{{ template "p" $l }}`},
	{"append to a growing list", `{{ $d := dict }}{{ $l := list }}{{ range 100000 }}{{ $l = append $l $d }}{{ end }}`},
	{"cyclic dict", `{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ $d }}`},
	{"cyclic dict through merge", `{{ $d := dict "a" 1 }}{{ $e := dict "d" $d }}{{ $_ := merge $d $e }}{{ toJson $d }}`},
	{"uniq of a long list", `{{ uniq (until 65536) }}`},
	{"split into runes", `{{ splitList "" (repeat 1000000 "a") }}`},
	{"untilStep overflow", `{{ untilStep 0 9223372036854775807 4611686018427387904 }}{{ untilStep -9223372036854775808 9223372036854775807 1 }}`},
	{"seq overflow", `{{ seq -9223372036854775808 1 9223372036854775806 }}`},
	{"bcrypt loop", `{{ range 100 }}{{ bcrypt "x" }}{{ end }}`},
	{"rsa key", `{{ genPrivateKey "rsa" }}`},
	{"dsa key", `{{ genPrivateKey "dsa" }}`},
	{"ca loop", `{{ range 10 }}{{ genCA "x" 1 }}{{ end }}`},
	{"indent", `{{ indent 100000 (repeat 1000 "\n") }}`},
	{"wrapWith", `{{ wrapWith 1 (repeat 10000 "x") (repeat 10000 "y ") }}`},
	{"randAlpha", `{{ randAlpha 100000000 }}`},
	{"many keys output", `{{ range 1000 }}{{ repeat 2000 "x" }}{{ end }}`},
	{"composition", `{{ range until 1000 }}{{ $x := repeat 10000 "abcd" | b64enc | upper | sha256sum }}{{ end }}`},
	// avp, in ExternalSecret templates only: the secret is built here,
	// as a provider would return it.
	{"avp indent of many newlines", `{{ $s := dict "k" (repeat 100000 "\n") "p" .password | toJson }}{{ avp $s "k | indent 256" }}`},
	{"avp indent hashed down", `{{ $s := dict "k" (repeat 4000 "a\n") "p" .password | toJson }}{{ range 100000 }}{{ avp $s "k | indent 256 | sha256sum" }}{{ end }}`},
	{"avp base64encode chain", `{{ $s := dict "k" .password | toJson }}{{ avp $s "k` + strings.Repeat(" | base64encode", 60) + `" }}`},
	{"avp base64encode chain hashed down", `{{ $s := dict "k" .password | toJson }}{{ range 100000 }}{{ avp $s "k` + strings.Repeat(" | base64encode", 40) + ` | sha256sum" }}{{ end }}`},
	{"avp huge expression", `{{ $s := dict "k" .password | toJson }}{{ avp $s "k` + strings.Repeat("|base64encode", 70000) + `" }}`},
	{"avp huge jsonPath", `{{ $s := dict "k" .password | toJson }}{{ avp $s "k | jsonPath {` + strings.Repeat(".a[0]", 150000) + `}" }}`},
	{"avp many jsonPath nodes", `{{ $s := dict "k" (repeat 500000 "x") | toJson }}{{ avp $s "k | jsonPath {` + strings.Repeat("[*]", 100) + `}" }}`},
	{"fromYaml in a range", `{{ $s := print "[" (repeat 80000 "1,") "1]" }}{{ range 1000 }}{{ $x := fromYaml $s }}{{ end }}`},
	{"avp yamlParse in a range", `{{ $s := dict "k" (print "[" (repeat 100000 "1,") "1]") | toJson }}{{ range 1000 }}{{ avp $s "k | yamlParse | jsonPath {[0]}" }}{{ end }}`},
	{"avp large secret in a range", `{{ $s := dict "k" (repeat 1000000 "x") "p" .password | toJson }}{{ range 1000 }}{{ avp $s "p" }}{{ end }}`},
	{"avpHas large secret in a range", `{{ $s := dict "k" (repeat 1000000 "x") "p" .password | toJson }}{{ range 1000 }}{{ avpHas $s "p" }}{{ end }}`},
}

// esoOnly are the hostile templates that call functions of the ESO engine
// alone.
var esoOnly = map[string]bool{
	"avp indent of many newlines": true, "avp indent hashed down": true, "avp base64encode chain": true,
	"avp base64encode chain hashed down": true, "avp huge expression": true, "avp huge jsonPath": true,
	"avp many jsonPath nodes": true, "avp yamlParse in a range": true, "avp large secret in a range": true,
	"avpHas large secret in a range": true, "fromYaml in a range": true,
}

// slow are the hostile templates that take about a second of CPU, as the
// budget allows; -short leaves them out.
var slow = map[string]bool{
	"range over a huge integer": true, "nested until": true, "regexReplaceAll doubling": true,
	"append to a growing list": true, "bcrypt loop": true, "ca loop": true, "composition": true,
}

// aliased makes $l hold the dict $d 4096 times while $d is empty, then
// puts 100 kB into $d: $l now prints 400 MB.
const aliased = `{{ $d := dict }}{{ $l := list $d $d $d $d $d $d $d $d }}{{ $l = list $l $l $l $l $l $l $l $l }}` +
	`{{ $l = list $l $l $l $l $l $l $l $l }}{{ $l = list $l $l $l $l $l $l $l $l }}{{ $_ := set $d "k" (repeat 100000 "x") }}`

// TestHostileTemplatesExceedTheBudget: each hostile template stops with
// the budget error, within the budget, in well under a second of CPU
// (asserted at 5 s; CPU time, which a busy machine does not stretch as it
// does time on the clock), without the data in the error.
// Both engines share the budget machinery; -short runs the SealedSecret
// one only (the ESO one for what only it has), and not the slow cases.
func TestHostileTemplatesExceedTheBudget(t *testing.T) {
	type engine struct {
		name   string
		engine *template.Engine
	}
	def, eso := engine{"default", template.Default()}, engine{"eso", template.ESO()}
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			if slow[tt.name] && testing.Short() {
				t.Skip("slow")
			}
			engines := []engine{def, eso}
			switch {
			case esoOnly[tt.name]:
				engines = []engine{eso}
			case testing.Short():
				engines = []engine{def}
			}
			for _, e := range engines {
				b := template.NewBudget()
				var err error
				cpu, ok := template.ThreadCPU(func() {
					_, err = e.engine.Execute(b, "k", tt.text, map[string]string{"password": "hunter2"})
				})
				if !errors.Is(err, template.ErrBudgetExceeded) {
					t.Fatalf("%s: err = %v, want the budget error", e.name, err)
				}
				// The budget is sized for well under a second.
				if ok && cpu > 5*time.Second {
					t.Errorf("%s: took %v of CPU", e.name, cpu)
				}
				if b.Steps() > template.MaxSteps || b.Size() > template.MaxRenderSize {
					t.Errorf("%s: budget overdrawn: %d steps, %d bytes", e.name, b.Steps(), b.Size())
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error leaks data: %v", err)
				}
			}
		})
	}
}
