package template

import (
	"reflect"
	"strconv"
	"time"
)

// Per-element overheads of sizeOf: what a list element or a map entry adds
// when printed as indented JSON or YAML (quotes, separators, newline),
// plus indentDepth bytes per level of nesting.
const (
	elemOverhead  = 4
	entryOverhead = 6
	indentDepth   = 2
)

// sizeOf returns an upper estimate of how many bytes v takes printed by
// fmt's %v, as JSON (indented or not) or as YAML, up to escaping, which
// multiplies a string by a small constant at most. A value held several
// times counts each time, as printing repeats it; a list or map
// that holds itself counts without end. Counting stops once it passes
// limit, so the cost is bounded by limit too: every element adds at least
// elemOverhead.
func sizeOf(v any, limit int64) int64 {
	s := sizer{limit: limit}
	s.add(v, 0)
	return s.n
}

type sizer struct {
	n, limit int64
}

func (s *sizer) over() bool { return s.n > s.limit }

func (s *sizer) add(v any, depth int64) {
	if s.over() {
		return
	}
	switch v := v.(type) {
	case nil:
		s.n += 5 // <nil>
	case string:
		s.n += int64(len(v))
	case []byte:
		s.n += 4 * int64(len(v)) // %v prints each byte as a number
	case bool:
		s.n += 5
	case int:
		s.n += digits(int64(v))
	case int64:
		s.n += digits(v)
	case float64:
		s.n += 24
	case []any:
		s.n += 2
		for _, e := range v {
			s.n += elemOverhead + indentDepth*depth
			if s.add(e, depth+1); s.over() {
				return
			}
		}
	case []string:
		s.n += 2
		for _, e := range v {
			if s.n += elemOverhead + indentDepth*depth + int64(len(e)); s.over() {
				return
			}
		}
	case []int:
		s.n += 2
		for _, e := range v {
			if s.n += elemOverhead + indentDepth*depth + digits(int64(e)); s.over() {
				return
			}
		}
	case map[string]any:
		s.n += 2
		for k, e := range v {
			s.n += entryOverhead + indentDepth*depth + int64(len(k))
			if s.add(e, depth+1); s.over() {
				return
			}
		}
	case map[string]string:
		s.n += 2
		for k, e := range v {
			if s.n += entryOverhead + indentDepth*depth + int64(len(k)) + int64(len(e)); s.over() {
				return
			}
		}
	case time.Time:
		s.n += 64
	default:
		s.addValue(reflect.ValueOf(v), depth)
	}
}

// addValue is add for the types add does not name, by reflection.
func (s *sizer) addValue(v reflect.Value, depth int64) {
	if s.over() {
		return
	}
	switch v.Kind() {
	case reflect.Invalid:
		s.n += 5
	case reflect.String:
		s.n += int64(v.Len())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			s.n += 5
			return
		}
		s.n++ // so that a pointer cycle ends at limit too
		if v.Kind() == reflect.Interface && v.CanInterface() {
			s.add(v.Elem().Interface(), depth)
			return
		}
		s.addValue(v.Elem(), depth)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			s.n += 4 * int64(v.Len())
			return
		}
		s.n += 2
		for i := range v.Len() {
			s.n += elemOverhead + indentDepth*depth
			if s.addElem(v.Index(i), depth+1); s.over() {
				return
			}
		}
	case reflect.Map:
		s.n += 2
		for it := v.MapRange(); it.Next(); {
			s.n += entryOverhead + indentDepth*depth
			s.addElem(it.Key(), depth+1)
			if s.addElem(it.Value(), depth+1); s.over() {
				return
			}
		}
	case reflect.Struct:
		s.n += 2
		for i := range v.NumField() {
			s.n += entryOverhead + indentDepth*depth + int64(len(v.Type().Field(i).Name))
			if s.addElem(v.Field(i), depth+1); s.over() {
				return
			}
		}
	default:
		s.n += 24 // numbers, booleans, and what cannot be printed at all
	}
}

func (s *sizer) addElem(v reflect.Value, depth int64) {
	if v.CanInterface() {
		s.add(v.Interface(), depth)
		return
	}
	s.addValue(v, depth)
}

// digits is how long n prints in decimal.
func digits(n int64) int64 {
	var buf [24]byte
	return int64(len(strconv.AppendInt(buf[:0], n, 10)))
}
