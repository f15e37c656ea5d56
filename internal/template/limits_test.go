package template_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/Masterminds/sprig/v3"

	"github.com/sealsync/sealsync/internal/template"
)

// TestBoundedFunctionsMatchSprig: the functions rewritten to count before
// they allocate (until, untilStep, seq, the regular expression ones)
// return what Sprig's do, for small arguments. Arguments are tenant
// template text.
func TestBoundedFunctionsMatchSprig(t *testing.T) {
	sp := sprig.TxtFuncMap()
	e := template.Default()
	render := func(text string) string {
		t.Helper()
		out, err := e.Execute(nil, "t", text, nil)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return string(out)
	}
	for a := -4; a <= 4; a++ {
		if got, want := render(fmt.Sprintf("{{ until %d }}", a)), fmt.Sprint(sp["until"].(func(int) []int)(a)); got != want {
			t.Errorf("until %d = %s, want %s", a, got, want)
		}
		if got, want := render(fmt.Sprintf("{{ seq %d }}", a)), sp["seq"].(func(...int) string)(a); got != want {
			t.Errorf("seq %d = %q, want %q", a, got, want)
		}
		for b := -4; b <= 4; b++ {
			if got, want := render(fmt.Sprintf("{{ seq %d %d }}", a, b)), sp["seq"].(func(...int) string)(a, b); got != want {
				t.Errorf("seq %d %d = %q, want %q", a, b, got, want)
			}
			for c := -3; c <= 3; c++ {
				if got, want := render(fmt.Sprintf("{{ untilStep %d %d %d }}", a, b, c)), fmt.Sprint(sp["untilStep"].(func(int, int, int) []int)(a, b, c)); got != want {
					t.Errorf("untilStep %d %d %d = %s, want %s", a, b, c, got, want)
				}
				if got, want := render(fmt.Sprintf("{{ seq %d %d %d }}", a, b, c)), sp["seq"].(func(...int) string)(a, b, c); got != want {
					t.Errorf("seq %d %d %d = %q, want %q", a, b, c, got, want)
				}
			}
		}
	}
	for _, tt := range []struct{ text, want string }{
		{`{{ regexMatch "^a.c$" "abc" }} {{ regexMatch "(" "abc" }}`, "true false"},
		{`{{ regexFind "b+" "abbbc" }}`, "bbb"},
		{`{{ regexFindAll "[0-9]" "a1b2c3" -1 }} {{ regexFindAll "[0-9]" "a1b2c3" 2 }}`, "[1 2 3] [1 2]"},
		{`{{ regexSplit "," "a,b,c" -1 }} {{ regexSplit "," "a,b,c" 2 }}`, "[a b c] [a b,c]"},
		{`{{ regexReplaceAll "(a)(b)" "xabyab" "${2}$1" }}`, "xbayba"},
		{`{{ regexReplaceAllLiteral "a(b)" "xab" "$1" }}`, "x$1"},
		{`{{ printf "%5s|%-3d|%.2f|%*d|%[1]s" "x" 7 3.14159 4 9 }}`, "    x|7  |3.14|   9|x"},
		{`{{ replace "a" "bb" "aXa" }} {{ replace "" "-" "ab" }}`, "bbXbb -a-b-"},
		{`{{ join "," (list "a" 1 true) }}`, "a,1,true"},
		{`{{ indent 2 "a\nb" }}|{{ nindent 1 "c" }}`, "  a\n  b|\n c"},
		{`{{ wrapWith 3 "|" "abc def ghi" }}`, "abc|def|ghi"},
		{`{{ len (splitList "," "a,b,c") }} {{ (split "," "a,b")._1 }} {{ (splitn "," 2 "a,b,c")._1 }}`, "3 b b,c"},
		{`{{ uniq (list 1 2 1 3 2) }} {{ without (list 1 2 3) 2 }}`, "[1 2 3] [1 3]"},
		{`{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }} {{ toJson $d }}`, `map[a:1 b:2] {"a":1,"b":2}`},
		{`{{ .nope }}`, "<no value>"},
	} {
		if got := render(tt.text); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestBudgetIsShared: the templates of one object draw from one budget,
// so work split over many keys (tenant template text) is counted in all.
func TestBudgetIsShared(t *testing.T) {
	b := template.NewBudget()
	text := `{{ range 100000 }}{{ end }}`
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = template.Default().Execute(b, fmt.Sprintf("k%d", i), text, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "more than 1000000 steps") {
		t.Fatalf("20 keys of 100000 steps each: err = %v", err)
	}
	if _, err := template.Default().Execute(b, "small", `x`, nil); err == nil {
		t.Fatal("a spent budget rendered another template")
	}

	b = template.NewBudget()
	for i := 0; i < 2; i++ {
		_, err = template.Default().Execute(b, "k", `{{ repeat 600000 "x" }}`, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes") {
		t.Fatalf("two keys of 600 kB: err = %v", err)
	}
}

// TestHiddenFunctionsCannotBeCalled: a template (tenant text) cannot call
// the instrumentation's function, which would let it refund or skip
// counting.
func TestHiddenFunctionsCannotBeCalled(t *testing.T) {
	for _, text := range []string{`{{ _sealsync_emit "x" }}`, `{{ "x" | _sealsync_emit }}`} {
		if _, err := template.Default().Execute(nil, "t", text, nil); err == nil || !strings.Contains(err.Error(), "not defined") {
			t.Errorf("%s: err = %v", text, err)
		}
	}
}
