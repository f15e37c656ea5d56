package template

import (
	"fmt"
	"strings"
	gotemplate "text/template"
)

// MaxItems is the most elements until, untilStep and seq may produce.
const MaxItems = 1 << 16

// bounded wraps the Sprig functions whose arguments decide how much memory
// they allocate before anything is written, so that a template cannot
// exhaust the controller's memory or CPU through them; the output cap
// alone would act only after the allocation.
func bounded(fm gotemplate.FuncMap) {
	until := fm["until"].(func(int) []int)
	untilStep := fm["untilStep"].(func(int, int, int) []int)
	seq := fm["seq"].(func(...int) string)
	fm["until"] = func(n int) ([]int, error) {
		if n > MaxItems || n < -MaxItems {
			return nil, fmt.Errorf("until %d: more than %d items", n, MaxItems)
		}
		return until(n), nil
	}
	fm["untilStep"] = func(start, stop, step int) ([]int, error) {
		if step == 0 || (stop-start)/step > MaxItems || (stop-start)/step < -MaxItems {
			return nil, fmt.Errorf("untilStep: more than %d items", MaxItems)
		}
		return untilStep(start, stop, step), nil
	}
	fm["seq"] = func(params ...int) (string, error) {
		span := 0
		switch len(params) {
		case 1:
			span = params[0]
		case 2:
			span = params[1] - params[0]
		case 3:
			if params[1] != 0 {
				span = (params[2] - params[0]) / params[1]
			}
		}
		if span > MaxItems || span < -MaxItems {
			return "", fmt.Errorf("seq: more than %d items", MaxItems)
		}
		return seq(params...), nil
	}
	fm["repeat"] = func(count int, s string) (string, error) {
		if count < 0 || (len(s) > 0 && count > MaxOutputSize/len(s)) {
			return "", ErrOutputTooLarge
		}
		return strings.Repeat(s, count), nil
	}
	for _, name := range []string{"indent", "nindent"} {
		f := fm[name].(func(int, string) string)
		fm[name] = func(spaces int, v string) (string, error) {
			lines := strings.Count(v, "\n") + 1
			if spaces < 0 || spaces > MaxOutputSize || lines*spaces > MaxOutputSize {
				return "", ErrOutputTooLarge
			}
			return f(spaces, v), nil
		}
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes"} {
		switch f := fm[name].(type) {
		case func(int) string:
			fm[name] = func(n int) (string, error) {
				if n < 0 || n > MaxOutputSize {
					return "", ErrOutputTooLarge
				}
				return f(n), nil
			}
		case func(int) (string, error):
			fm[name] = func(n int) (string, error) {
				if n < 0 || n > MaxOutputSize {
					return "", ErrOutputTooLarge
				}
				return f(n)
			}
		}
	}
}
