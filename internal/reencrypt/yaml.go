package reencrypt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/manifest"
)

// yamlFile is a YAML stream parsed to node trees. The parser gives each
// node's line and column (in characters); lines maps them back to byte
// offsets, counting line breaks exactly as the parser does.
type yamlFile struct {
	data []byte
	// lines holds the byte offset at which each line starts.
	lines []int
	// bom is the length of a leading byte order mark, which the parser
	// skips without counting a column.
	bom  int
	docs []*yaml.Node
	objs []*object
}

// yamlObject locates the rewritable parts of one SealedSecret.
type yamlObject struct {
	root *yaml.Node
	// values are the encryptedData value scalars by key.
	values map[string]*yaml.Node
	// metaKey and meta are the metadata key and its mapping.
	metaKey, meta *yaml.Node
	// annKey and ann are the annotations key and its mapping; nil when
	// metadata has no annotations.
	annKey, ann *yaml.Node
	// keyID is the key-id annotation's value; nil when absent.
	keyID *yaml.Node
}

// parseYAML parses every document of data and finds the SealedSecrets.
func parseYAML(data []byte) (f *yamlFile, err error) {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return nil, errors.New("UTF-16 files are not supported")
	}
	// The parser is fed whatever is in a repository; whatever goes wrong
	// inside it must fail this file, not the run.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errors.New("invalid YAML: the parser failed")
		}
	}()
	f = &yamlFile{data: data, lines: lineStarts(data)}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		f.bom = 3
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", manifest.Scrub(err))
		}
		f.docs = append(f.docs, &n)
	}
	for i, doc := range f.docs {
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
			continue
		}
		root := doc.Content[0]
		switch {
		case isKind(root, ssv1alpha1.SchemeGroupVersion.String(), "SealedSecret"):
			f.objs = append(f.objs, f.object(i+1, 0, root))
		case isKind(root, "v1", "List") || isKind(root, "", "List"):
			_, items, _ := lookup(root, "items")
			if items == nil || items.Kind != yaml.SequenceNode {
				continue
			}
			for j, it := range items.Content {
				if isKind(it, ssv1alpha1.SchemeGroupVersion.String(), "SealedSecret") {
					f.objs = append(f.objs, f.object(i+1, j+1, it))
				}
			}
		}
	}
	return f, nil
}

// lineStarts returns the offset of the start of every line of data.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i := 0; i < len(data); {
		if n := breakLen(data, i); n > 0 {
			i += n
			starts = append(starts, i)
			continue
		}
		i++
	}
	return starts
}

// offset returns the byte offset of n's first character.
func (f *yamlFile) offset(n *yaml.Node) (int, error) {
	if n.Line < 1 || n.Line > len(f.lines) || n.Column < 1 {
		return 0, errors.New("a node has no position")
	}
	off := f.lines[n.Line-1]
	if n.Line == 1 {
		off += f.bom
	}
	for range n.Column - 1 {
		if off >= len(f.data) || breakLen(f.data, off) > 0 {
			return 0, errors.New("a node's position is past the end of its line")
		}
		_, w := utf8.DecodeRune(f.data[off:])
		off += w
	}
	return off, nil
}

func (f *yamlFile) objects() []*object { return f.objs }

// isKind reports whether n is a mapping declaring apiVersion and kind.
func isKind(n *yaml.Node, apiVersion, kind string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	_, v, _ := lookup(n, "apiVersion")
	_, k, _ := lookup(n, "kind")
	av := ""
	if v != nil {
		if v.Kind != yaml.ScalarNode {
			return false
		}
		av = v.Value
	}
	return k != nil && k.Kind == yaml.ScalarNode && k.Value == kind && av == apiVersion
}

// lookup returns the key and value nodes of key in mapping m. A duplicate
// key or a merge key is an error: what the object means would no longer
// be what the nodes say.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node, err error) {
	if m.Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a mapping")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		if kn.Kind == yaml.ScalarNode && kn.Value == "<<" && kn.Style == 0 {
			return nil, nil, errors.New("merge keys are not supported here")
		}
		if kn.Kind != yaml.ScalarNode || kn.Value != key {
			continue
		}
		if k != nil {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		k, v = kn, m.Content[i+1]
	}
	return k, v, nil
}

// object decodes the SealedSecret at root and locates its values.
func (f *yamlFile) object(doc, item int, root *yaml.Node) *object {
	o := &object{doc: doc, item: item}
	if _, meta, _ := lookup(root, "metadata"); meta != nil && meta.Kind == yaml.MappingNode {
		if _, n, _ := lookup(meta, "namespace"); n != nil && n.Kind == yaml.ScalarNode {
			o.namespace = n.Value
		}
		if _, n, _ := lookup(meta, "name"); n != nil && n.Kind == yaml.ScalarNode {
			o.name = n.Value
		}
	}
	ss, err := decodeYAMLObject(root)
	if err != nil {
		o.err = err
		return o
	}
	loc, err := locateYAML(root, ss)
	if err != nil {
		o.err = err
		return o
	}
	o.ss, o.loc = ss, loc
	return o
}

// decodeYAMLObject decodes a SealedSecret the way the API machinery does:
// to JSON, then into the type.
func decodeYAMLObject(root *yaml.Node) (*ssv1alpha1.SealedSecret, error) {
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, fmt.Errorf("cannot decode: %w", manifest.Scrub(err))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errors.New("cannot decode: not representable as JSON")
	}
	ss := &ssv1alpha1.SealedSecret{}
	if err := json.Unmarshal(b, ss); err != nil {
		return nil, fmt.Errorf("cannot decode: %w", manifest.Scrub(err))
	}
	return ss, nil
}

// locateYAML finds the nodes of ss's values under root and checks that
// they say what the decoded object says, so that rewriting them rewrites
// exactly those values.
func locateYAML(root *yaml.Node, ss *ssv1alpha1.SealedSecret) (*yamlObject, error) {
	loc := &yamlObject{root: root, values: map[string]*yaml.Node{}}
	_, spec, err := lookup(root, "spec")
	if err != nil {
		return nil, err
	}
	if spec != nil && spec.Kind == yaml.MappingNode {
		_, data, err := lookup(spec, "encryptedData")
		if err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
		if data != nil && data.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(data.Content); i += 2 {
				k, v := data.Content[i], data.Content[i+1]
				if k.Kind != yaml.ScalarNode || k.Style&yaml.TaggedStyle != 0 {
					return nil, errors.New("spec.encryptedData: keys must be plain strings")
				}
				if k.Value == "<<" && k.Style == 0 {
					return nil, errors.New("spec.encryptedData: merge keys are not supported")
				}
				if _, dup := loc.values[k.Value]; dup {
					return nil, fmt.Errorf("spec.encryptedData: duplicate key %q", k.Value)
				}
				if err := rewritable(v); err != nil {
					return nil, fmt.Errorf("spec.encryptedData[%q]: %w", k.Value, err)
				}
				loc.values[k.Value] = v
			}
		}
	}
	located := make(map[string]string, len(loc.values))
	for k, n := range loc.values {
		located[k] = n.Value
	}
	if err := sameItems(located, ss); err != nil {
		return nil, err
	}

	loc.metaKey, loc.meta, err = lookup(root, "metadata")
	switch {
	case err != nil:
		return nil, fmt.Errorf("metadata: %w", err)
	case loc.meta == nil:
		return nil, errors.New("no metadata")
	case loc.meta.Kind != yaml.MappingNode:
		return nil, errors.New("metadata is not a mapping")
	}
	loc.annKey, loc.ann, err = lookup(loc.meta, "annotations")
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if loc.ann != nil && loc.ann.Kind == yaml.MappingNode {
		_, id, err := lookup(loc.ann, ssv1alpha1.KeyIDAnnotation)
		if err != nil {
			return nil, fmt.Errorf("metadata.annotations: %w", err)
		}
		if id != nil && (id.Kind != yaml.ScalarNode || id.Value != ss.Annotations[ssv1alpha1.KeyIDAnnotation]) {
			return nil, fmt.Errorf("annotation %s is written in a way this tool cannot rewrite", ssv1alpha1.KeyIDAnnotation)
		}
		loc.keyID = id
	}
	return loc, nil
}

// rewritable refuses the scalars whose replacement would change more than
// this value: aliases and anchors are shared, a tag changes the meaning.
func rewritable(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.AliasNode:
		return errors.New("values written as aliases are not supported")
	case n.Kind != yaml.ScalarNode:
		return errors.New("not a string")
	case n.Anchor != "":
		return errors.New("values with anchors are not supported")
	case n.Style&yaml.TaggedStyle != 0:
		return errors.New("values with tags are not supported")
	}
	return nil
}

func (f *yamlFile) edit(c change) (edit, error) {
	loc := c.obj.loc.(*yamlObject)
	if !c.annotation {
		e, err := f.replace(loc.values[c.item], c.value, true)
		if err != nil {
			return edit{}, fmt.Errorf("spec.encryptedData[%q]: %w", c.item, err)
		}
		return e, nil
	}
	if loc.keyID != nil {
		if err := rewritable(loc.keyID); err != nil {
			return edit{}, fmt.Errorf("annotation %s: %w", ssv1alpha1.KeyIDAnnotation, err)
		}
		e, err := f.replace(loc.keyID, c.value, false)
		if err != nil {
			return edit{}, fmt.Errorf("annotation %s: %w", ssv1alpha1.KeyIDAnnotation, err)
		}
		return e, nil
	}
	e, err := f.insertKeyID(loc, c.value)
	if err != nil {
		return edit{}, fmt.Errorf("cannot add annotation %s: %w", ssv1alpha1.KeyIDAnnotation, err)
	}
	return e, nil
}

// replace returns the edit that makes scalar n hold v in the same style.
// Block scalars are accepted only for ciphertext, where the line breaks
// they keep do not change what the value decodes to.
func (f *yamlFile) replace(n *yaml.Node, v string, block bool) (edit, error) {
	if !isSealedValue(v) {
		return edit{}, errors.New("internal error: value needs escaping")
	}
	off, err := f.offset(n)
	if err != nil {
		return edit{}, err
	}
	data := f.data
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if data[off] != '"' {
			return edit{}, errors.New("cannot find the value")
		}
		for i := off + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return edit{off, i + 1, []byte(`"` + v + `"`)}, nil
			}
		}
		return edit{}, errors.New("cannot find the end of the value")
	case n.Style&yaml.SingleQuotedStyle != 0:
		if data[off] != '\'' {
			return edit{}, errors.New("cannot find the value")
		}
		for i := off + 1; i < len(data); i++ {
			if data[i] != '\'' {
				continue
			}
			if i+1 < len(data) && data[i+1] == '\'' {
				i++
				continue
			}
			return edit{off, i + 1, []byte("'" + v + "'")}, nil
		}
		return edit{}, errors.New("cannot find the end of the value")
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		if !block {
			return edit{}, errors.New("block scalars are not supported here")
		}
		return f.replaceBlock(n, off, v)
	case n.Style == 0 || n.Style == yaml.FlowStyle:
		// A plain scalar has no escapes; one whose bytes are not exactly
		// its value spans lines, which a sealed value never does.
		if n.Value == "" || !bytes.HasPrefix(data[off:], []byte(n.Value)) {
			return edit{}, errors.New("cannot find the value")
		}
		text := v
		if !plainSafe(v) {
			text = `"` + v + `"`
		}
		return edit{off, off + len(n.Value), []byte(text)}, nil
	}
	return edit{}, errors.New("unsupported scalar style")
}

// plainSafe reports whether v reads back as the same string when written
// as a plain scalar, in YAML 1.2 and in the YAML 1.1 of kubectl.
func plainSafe(v string) bool {
	b, err := yaml.Marshal(v)
	return err == nil && string(b) == v+"\n"
}

// replaceBlock replaces the content lines of a literal (|) or folded (>)
// block scalar whose indicator is at off, keeping its header, its
// indentation, its line endings and the lines after it. A literal value
// that was wrapped is wrapped again at the width of its first line; a
// folded one is written on one line, since folding would join wrapped
// lines with spaces.
func (f *yamlFile) replaceBlock(n *yaml.Node, off int, v string) (edit, error) {
	data := f.data
	if n.Value == "" || data[off] != '|' && data[off] != '>' {
		return edit{}, errors.New("cannot find the value")
	}
	i := off + 1
	for ; i < len(data) && i < off+3 && (data[i] == '+' || data[i] == '-' || '0' <= data[i] && data[i] <= '9'); i++ {
		if data[i] != '+' && data[i] != '-' {
			return edit{}, errors.New("block scalars with an indentation indicator are not supported")
		}
	}
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	if i < len(data) && data[i] == '#' {
		i = lineEnd(data, i)
	}
	brk := breakLen(data, i)
	if brk == 0 {
		return edit{}, errors.New("cannot find the value")
	}
	lb := data[i : i+brk]
	var (
		indent            = -1
		start, end, width int
		lines             int
	)
	for ls := i + brk; ls < len(data); {
		le := lineEnd(data, ls)
		sp := 0
		for ls+sp < le && data[ls+sp] == ' ' {
			sp++
		}
		if len(bytes.TrimLeft(data[ls+sp:le], " \t")) > 0 {
			if indent < 0 {
				indent, start, width = sp, ls+sp, le-(ls+sp)
			} else if sp < indent {
				break
			}
			end = le
			lines++
		}
		if breakLen(data, le) == 0 {
			break
		}
		ls = le + breakLen(data, le)
	}
	if lines == 0 {
		return edit{}, errors.New("cannot find the value")
	}
	text := v
	if lines > 1 && data[off] == '|' && width > 0 {
		var b strings.Builder
		for len(text) > width {
			b.WriteString(text[:width])
			b.Write(lb)
			b.WriteString(strings.Repeat(" ", indent))
			text = text[width:]
		}
		b.WriteString(text)
		text = b.String()
	}
	return edit{start, end, []byte(text)}, nil
}

// insertKeyID returns the edit that adds the key-id annotation as the
// first entry of metadata.annotations, creating that mapping as the first
// entry of metadata when there is none. In a block mapping the new line
// goes right under the mapping's key, above any comment on its first
// entry, and takes the indentation of that entry.
func (f *yamlFile) insertKeyID(loc *yamlObject, id string) (edit, error) {
	if !isSealedValue(id) {
		return edit{}, errors.New("internal error: value needs escaping")
	}
	value := id
	if !plainSafe(id) {
		value = `"` + id + `"`
	}
	entry := ssv1alpha1.KeyIDAnnotation + ": " + value
	key, m, nested := loc.annKey, loc.ann, false
	if m == nil {
		key, m, nested = loc.metaKey, loc.meta, true
	}
	if m.Kind != yaml.MappingNode {
		return edit{}, errors.New("metadata.annotations is not a mapping")
	}
	if m.Anchor != "" || m.Style&yaml.TaggedStyle != 0 {
		return edit{}, errors.New("mappings with anchors or tags are not supported")
	}
	off, err := f.offset(m)
	if err != nil {
		return edit{}, err
	}
	if m.Style&yaml.FlowStyle != 0 {
		if f.data[off] != '{' {
			return edit{}, errors.New("cannot find the mapping")
		}
		if nested {
			entry = "annotations: {" + entry + "}"
		}
		if len(m.Content) == 0 {
			return edit{off + 1, off + 1, []byte(entry)}, nil
		}
		first, err := f.offset(m.Content[0])
		if err != nil {
			return edit{}, err
		}
		return edit{first, first, []byte(entry + ", ")}, nil
	}
	if len(m.Content) == 0 {
		return edit{}, errors.New("cannot find the mapping")
	}
	first := m.Content[0]
	firstOff, err := f.offset(first)
	if err != nil {
		return edit{}, err
	}
	lineStart := f.lines[first.Line-1]
	indent := f.data[lineStart:firstOff]
	if first.Line <= key.Line || len(indent) == 0 || len(bytes.Trim(indent, " ")) != 0 {
		return edit{}, errors.New("cannot find where the mapping's entries start")
	}
	at := lineStart
	if f.onlyComments(key.Line, first.Line-1) {
		at = f.lines[key.Line]
	}
	lb := lineBreakBefore(f.data, at)
	var b bytes.Buffer
	b.Write(indent)
	if nested {
		step := first.Column - key.Column
		if step <= 0 {
			step = 2
		}
		b.WriteString("annotations:")
		b.Write(lb)
		b.Write(indent)
		b.WriteString(strings.Repeat(" ", step))
	}
	b.WriteString(entry)
	b.Write(lb)
	return edit{at, at, b.Bytes()}, nil
}

// onlyComments reports whether the 1-based lines from+1 to to hold
// nothing but blanks and comments.
func (f *yamlFile) onlyComments(from, to int) bool {
	for l := from + 1; l <= to; l++ {
		line := bytes.TrimLeft(f.data[f.lines[l-1]:lineEnd(f.data, f.lines[l-1])], " \t")
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// verify parses out and compares it, node by node, with the original.
func (f *yamlFile) verify(out []byte, changes []change) error {
	g, err := parseYAML(out)
	if err != nil {
		return err
	}
	if len(g.docs) != len(f.docs) {
		return fmt.Errorf("%d documents instead of %d", len(g.docs), len(f.docs))
	}
	exp := yamlExpect{values: map[*yaml.Node]string{}, cipher: map[*yaml.Node]bool{}, inserts: map[*yaml.Node]insertion{}}
	for _, c := range changes {
		loc := c.obj.loc.(*yamlObject)
		switch {
		case !c.annotation:
			exp.values[loc.values[c.item]] = c.value
			exp.cipher[loc.values[c.item]] = true
		case loc.keyID != nil:
			exp.values[loc.keyID] = c.value
		case loc.ann != nil:
			exp.inserts[loc.ann] = insertion{id: c.value}
		default:
			exp.inserts[loc.meta] = insertion{id: c.value, nested: true}
		}
	}
	for i := range f.docs {
		if err := exp.compare(f.docs[i], g.docs[i], 0); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

// yamlExpect is what verify expects to have changed, by original node.
type yamlExpect struct {
	// values are the scalars replaced; cipher marks ciphertext, compared
	// without the line breaks a block scalar adds.
	values map[*yaml.Node]string
	cipher map[*yaml.Node]bool
	// inserts are the mappings that gained a key-id annotation as their
	// first entry.
	inserts map[*yaml.Node]insertion
}

// maxDepth bounds the recursion of the tree walks; the parser refuses
// deeper documents anyway.
const maxDepth = 10000

func (e *yamlExpect) compare(a, b *yaml.Node, depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deeply")
	}
	if v, ok := e.values[a]; ok {
		got := b.Value
		if e.cipher[a] {
			got = strings.NewReplacer("\n", "", "\r", "").Replace(got)
		}
		if b.Kind != yaml.ScalarNode || b.Tag != "!!str" || got != v {
			return fmt.Errorf("line %d: the new value does not read back", b.Line)
		}
		return nil
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Anchor != b.Anchor || a.Style != b.Style ||
		(a.Kind != yaml.MappingNode && a.Kind != yaml.SequenceNode && a.Kind != yaml.DocumentNode && a.Value != b.Value) {
		return fmt.Errorf("line %d: a node outside the re-sealed values changed", b.Line)
	}
	bc := b.Content
	if ins, ok := e.inserts[a]; ok {
		if len(bc) < 2 {
			return fmt.Errorf("line %d: the annotation is missing", b.Line)
		}
		k, v := bc[0], bc[1]
		if ins.nested {
			if k.Value != "annotations" || v.Kind != yaml.MappingNode || len(v.Content) != 2 {
				return fmt.Errorf("line %d: the annotations are not what was written", b.Line)
			}
			k, v = v.Content[0], v.Content[1]
		}
		if k.Value != ssv1alpha1.KeyIDAnnotation || v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value != ins.id {
			return fmt.Errorf("line %d: the annotation is not what was written", b.Line)
		}
		bc = bc[2:]
	}
	if len(a.Content) != len(bc) {
		return fmt.Errorf("line %d: a node outside the re-sealed values changed", b.Line)
	}
	for i := range a.Content {
		if err := e.compare(a.Content[i], bc[i], depth+1); err != nil {
			return err
		}
	}
	return nil
}
