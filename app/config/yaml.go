package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A reader for the YAML that etcd configuration files are written in, so that --config-file
// works without a YAML dependency. It covers block mappings and sequences, flow sequences and
// mappings (also across lines), plain, single- and double-quoted scalars, literal (|) and
// folded (>) block scalars, and comments. Scalars resolve as YAML 1.1 (go-yaml v2, which etcd
// uses through sigs.k8s.io/yaml) resolves them: yes/no/on/off are booleans, 0x.. and 0.. are
// integers, ~ and null are null. Anchors, aliases, tags and multi-line quoted scalars are
// refused with an error rather than misread. Only the first document is read, as go-yaml does.

type yamlLine struct {
	num    int    // 1-based line number
	indent int    // leading spaces
	text   string // the rest of the line, trailing spaces removed
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func yamlErrorf(line int, format string, a ...any) error {
	return fmt.Errorf("yaml: line %d: %s", line, fmt.Sprintf(format, a...))
}

// parseYAML returns the document as map[string]any / []any / string / int / int64 / uint64 /
// float64 / bool / nil.
func parseYAML(src []byte) (any, error) {
	if !utf8.Valid(src) {
		return nil, errors.New("yaml: invalid leading UTF-8 octet")
	}
	s := strings.TrimPrefix(string(src), "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	p := &yamlParser{}
	started := false
	for i, raw := range strings.Split(s, "\n") {
		trimmed := strings.TrimRight(raw, " \t")
		if strings.HasPrefix(trimmed, "---") && (len(trimmed) == 3 || trimmed[3] == ' ') {
			if started {
				break // a second document: go-yaml's Unmarshal reads the first only
			}
			started = true
			if rest := strings.TrimSpace(trimmed[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, yamlErrorf(i+1, "content on the document start line is not supported")
			}
			continue
		}
		if trimmed == "..." {
			break
		}
		indent := 0
		for indent < len(trimmed) && trimmed[indent] == ' ' {
			indent++
		}
		text := trimmed[indent:]
		if text != "" && !strings.HasPrefix(text, "#") {
			started = true
		}
		if strings.HasPrefix(text, "\t") {
			return nil, yamlErrorf(i+1, "found a tab character that violates indentation")
		}
		p.lines = append(p.lines, yamlLine{num: i + 1, indent: indent, text: text})
	}
	p.skipBlank()
	if p.pos >= len(p.lines) {
		return nil, nil
	}
	v, err := p.parseNode(p.lines[p.pos].indent)
	if err != nil {
		return nil, err
	}
	p.skipBlank()
	if p.pos < len(p.lines) {
		l := p.lines[p.pos]
		return nil, yamlErrorf(l.num, "did not find expected <document start>")
	}
	return v, nil
}

func isBlankYAML(text string) bool { return text == "" || strings.HasPrefix(text, "#") }

func (p *yamlParser) skipBlank() {
	for p.pos < len(p.lines) && isBlankYAML(p.lines[p.pos].text) {
		p.pos++
	}
}

// parseNode parses the block node whose first line is the current one, at the given indent.
func (p *yamlParser) parseNode(indent int) (any, error) {
	l := p.lines[p.pos]
	if isSeqItem(l.text) {
		return p.parseSeq(indent)
	}
	if _, _, ok, err := splitKey(l); err != nil {
		return nil, err
	} else if ok {
		return p.parseMap(indent)
	}
	p.pos++
	return p.parseValue(l, l.text, indent-1)
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *yamlParser) parseSeq(indent int) (any, error) {
	out := []any{}
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent {
			return out, nil
		}
		if l.indent > indent {
			return nil, yamlErrorf(l.num, "did not find expected '-' indicator")
		}
		if !isSeqItem(l.text) {
			return out, nil // a sequence at its key's indent ends where the next key starts
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		if isBlankYAML(rest) {
			p.pos++
			v, err := p.parseNested(indent, true)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// "- x": the item's content starts at its own column; re-read the line from there so
		// that "- key: v" followed by "  key2: w" forms one mapping.
		col := l.indent + (len(l.text) - len(rest))
		p.lines[p.pos] = yamlLine{num: l.num, indent: col, text: rest}
		v, err := p.parseNode(col)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// parseNested parses the value of a key or "-" whose line held nothing else: a deeper block,
// a sequence at the key's own indent (for mapping values), or null.
func (p *yamlParser) parseNested(parentIndent int, inSeq bool) (any, error) {
	p.skipBlank()
	if p.pos >= len(p.lines) {
		return nil, nil
	}
	l := p.lines[p.pos]
	if l.indent > parentIndent {
		return p.parseNode(l.indent)
	}
	if !inSeq && l.indent == parentIndent && isSeqItem(l.text) {
		return p.parseSeq(parentIndent)
	}
	return nil, nil
}

func (p *yamlParser) parseMap(indent int) (any, error) {
	out := map[string]any{}
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent {
			return out, nil
		}
		if l.indent > indent {
			return nil, yamlErrorf(l.num, "mapping values are not allowed in this context")
		}
		if isSeqItem(l.text) {
			return nil, yamlErrorf(l.num, "did not find expected key")
		}
		key, rest, ok, err := splitKey(l)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, yamlErrorf(l.num, "could not find expected ':'")
		}
		p.pos++
		var v any
		if isBlankYAML(rest) {
			v, err = p.parseNested(indent, false)
		} else {
			v, err = p.parseValue(l, rest, indent)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
}

// splitKey splits "key: rest" (the key plain or quoted). ok is false when the line holds no
// mapping key.
func splitKey(l yamlLine) (key, rest string, ok bool, err error) {
	t := l.text
	if t == "" {
		return "", "", false, nil
	}
	switch t[0] {
	case '"', '\'':
		s, n, qerr := readQuoted(t, l.num)
		if qerr != nil {
			return "", "", false, qerr
		}
		after := strings.TrimLeft(t[n:], " ")
		if after == ":" || strings.HasPrefix(after, ": ") {
			return s, strings.TrimLeft(after[1:], " "), true, nil
		}
		return "", "", false, nil
	case '[', '{', '&', '*', '!', '|', '>', '?', '%', '@', '`':
		return "", "", false, nil
	}
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '#' && i > 0 && t[i-1] == ' ':
			return "", "", false, nil
		case t[i] == ':' && (i+1 == len(t) || t[i+1] == ' '):
			k, kerr := resolveKey(strings.TrimRight(t[:i], " "), l.num)
			if kerr != nil {
				return "", "", false, kerr
			}
			return k, strings.TrimLeft(t[i+1:], " "), true, nil
		}
	}
	return "", "", false, nil
}

// resolveKey gives a plain key the string sigs.k8s.io/yaml turns it into.
func resolveKey(s string, line int) (string, error) {
	switch v := resolvePlain(s).(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 32), nil
	case bool:
		return strconv.FormatBool(v), nil
	default:
		return "", yamlErrorf(line, "unsupported map key %q", s)
	}
}

// parseValue parses the value that starts in text (the rest of line l) of a node whose parent
// is at parentIndent; following lines may continue it.
func (p *yamlParser) parseValue(l yamlLine, text string, parentIndent int) (any, error) {
	switch text[0] {
	case '&', '*', '!':
		return nil, yamlErrorf(l.num, "anchors, aliases and tags are not supported")
	case '[', '{':
		return p.parseFlowValue(l, text)
	case '|', '>':
		return p.parseBlockScalar(l, text, parentIndent)
	case '"', '\'':
		s, n, err := readQuoted(text, l.num)
		if err != nil {
			return nil, err
		}
		if after := strings.TrimLeft(text[n:], " "); !isBlankYAML(after) {
			return nil, yamlErrorf(l.num, "did not find expected key")
		}
		return s, nil
	}
	s := stripComment(text)
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
		return nil, yamlErrorf(l.num, "mapping values are not allowed in this context")
	}
	// A plain scalar may go on over more deeply indented lines; they fold into one line.
	for p.pos < len(p.lines) {
		next := p.lines[p.pos]
		if isBlankYAML(next.text) || next.indent <= parentIndent {
			break
		}
		if _, _, isKey, _ := splitKey(next); isKey {
			return nil, yamlErrorf(next.num, "mapping values are not allowed in this context")
		}
		s += " " + stripComment(next.text)
		p.pos++
	}
	return resolvePlain(s), nil
}

func stripComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return s
}

func (p *yamlParser) parseFlowValue(l yamlLine, text string) (any, error) {
	// Gather lines until the brackets balance (etcd's sample file closes a flow sequence at
	// column 0, so continuation lines may have any indentation).
	var b strings.Builder
	b.WriteString(stripFlowComment(text))
	for flowDepth(b.String()) > 0 {
		if p.pos >= len(p.lines) {
			return nil, yamlErrorf(l.num, "did not find expected ',' or ']'")
		}
		next := p.lines[p.pos]
		p.pos++
		if isBlankYAML(next.text) {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(stripFlowComment(next.text))
	}
	fp := &flowParser{s: b.String(), line: l.num}
	v, err := fp.value()
	if err != nil {
		return nil, err
	}
	fp.skipSpace()
	if fp.i != len(fp.s) {
		return nil, yamlErrorf(l.num, "did not find expected <document start>")
	}
	return v, nil
}

// stripFlowComment removes a comment from a line of a flow collection, outside quotes.
func stripFlowComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return s
}

func flowDepth(s string) int {
	depth := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
	}
	return depth
}

type flowParser struct {
	s    string
	i    int
	line int
}

func (f *flowParser) skipSpace() {
	for f.i < len(f.s) && (f.s[f.i] == ' ' || f.s[f.i] == '\t') {
		f.i++
	}
}

func (f *flowParser) value() (any, error) {
	f.skipSpace()
	if f.i >= len(f.s) {
		return nil, yamlErrorf(f.line, "did not find expected node content")
	}
	switch f.s[f.i] {
	case '[':
		f.i++
		out := []any{}
		for {
			f.skipSpace()
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return out, nil
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			f.skipSpace()
			if f.i < len(f.s) && f.s[f.i] == ',' {
				f.i++
				continue
			}
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return out, nil
			}
			return nil, yamlErrorf(f.line, "did not find expected ',' or ']'")
		}
	case '{':
		f.i++
		out := map[string]any{}
		for {
			f.skipSpace()
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return out, nil
			}
			k, err := f.scalar(true)
			if err != nil {
				return nil, err
			}
			key, err := flowKey(k, f.line)
			if err != nil {
				return nil, err
			}
			f.skipSpace()
			var v any
			if f.i < len(f.s) && f.s[f.i] == ':' {
				f.i++
				f.skipSpace()
				if f.i < len(f.s) && (f.s[f.i] == ',' || f.s[f.i] == '}') {
					v = nil
				} else if v, err = f.value(); err != nil {
					return nil, err
				}
			}
			out[key] = v
			f.skipSpace()
			if f.i < len(f.s) && f.s[f.i] == ',' {
				f.i++
				continue
			}
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return out, nil
			}
			return nil, yamlErrorf(f.line, "did not find expected ',' or '}'")
		}
	case '&', '*', '!':
		return nil, yamlErrorf(f.line, "anchors, aliases and tags are not supported")
	}
	return f.scalar(false)
}

func flowKey(k any, line int) (string, error) {
	if s, ok := k.(quotedString); ok {
		return string(s), nil
	}
	return resolveKey(k.(string), line)
}

// quotedString marks a flow scalar that was quoted (and so is not resolved).
type quotedString string

// scalar reads a flow scalar; keys come back unresolved (string or quotedString).
func (f *flowParser) scalar(isKey bool) (any, error) {
	if c := f.s[f.i]; c == '"' || c == '\'' {
		s, n, err := readQuoted(f.s[f.i:], f.line)
		if err != nil {
			return nil, err
		}
		f.i += n
		if isKey {
			return quotedString(s), nil
		}
		return s, nil
	}
	start := f.i
	for f.i < len(f.s) {
		c := f.s[f.i]
		if c == ',' || c == ']' || c == '}' || c == '[' || c == '{' {
			break
		}
		if c == ':' && (f.i+1 == len(f.s) || f.s[f.i+1] == ' ' || f.s[f.i+1] == ',' || f.s[f.i+1] == '}' || f.s[f.i+1] == ']') {
			break
		}
		f.i++
	}
	s := strings.TrimRight(f.s[start:f.i], " \t")
	if isKey {
		return s, nil
	}
	return resolvePlain(s), nil
}

// readQuoted reads a quoted scalar at the start of s, returning it and the bytes consumed.
func readQuoted(s string, line int) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if q == '\'' {
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), i + 1, nil
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, yamlErrorf(line, "multi-line quoted scalars are not supported")
			}
			i++
			n, err := unescape(&b, s[i:], line)
			if err != nil {
				return "", 0, err
			}
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, yamlErrorf(line, "found unexpected end of stream (multi-line quoted scalars are not supported)")
}

// unescape writes the escape sequence at the start of s (after the backslash) and returns
// how many bytes it took.
func unescape(b *strings.Builder, s string, line int) (int, error) {
	simple := map[byte]string{
		'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f",
		'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '/': "/", '\\': "\\", 'N': "\u0085",
		'_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
	}
	if r, ok := simple[s[0]]; ok {
		b.WriteString(r)
		return 1, nil
	}
	width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[0]]
	if width == 0 || len(s) < 1+width {
		return 0, yamlErrorf(line, "found unknown escape character while parsing a quoted scalar")
	}
	v, err := strconv.ParseUint(s[1:1+width], 16, 32)
	if err != nil {
		return 0, yamlErrorf(line, "did not find expected hexdecimal number")
	}
	b.WriteRune(rune(v))
	return 1 + width, nil
}

// parseBlockScalar reads a literal (|) or folded (>) block scalar.
func (p *yamlParser) parseBlockScalar(l yamlLine, header string, parentIndent int) (any, error) {
	h := stripComment(header)
	folded := h[0] == '>'
	chomp := byte(0)
	explicit := 0
	for _, c := range []byte(h[1:]) {
		switch {
		case c == '-' || c == '+':
			chomp = c
		case c >= '1' && c <= '9':
			explicit = int(c - '0')
		default:
			return nil, yamlErrorf(l.num, "did not find expected comment or line break")
		}
	}
	var body []yamlLine
	for p.pos < len(p.lines) {
		next := p.lines[p.pos]
		if next.text != "" && next.indent <= parentIndent {
			break
		}
		body = append(body, next)
		p.pos++
	}
	// Trailing blank lines belong to the scalar only for chomping.
	trailing := 0
	for len(body) > 0 && body[len(body)-1].text == "" {
		body = body[:len(body)-1]
		trailing++
	}
	indent := -1
	if explicit > 0 {
		indent = parentIndent + explicit
		if parentIndent < 0 {
			indent = explicit
		}
	}
	for _, bl := range body {
		if bl.text != "" && indent < 0 {
			indent = bl.indent
		}
	}
	var lines []string
	for _, bl := range body {
		if bl.text == "" {
			lines = append(lines, "")
			continue
		}
		if bl.indent < indent {
			return nil, yamlErrorf(bl.num, "did not find expected key")
		}
		lines = append(lines, strings.Repeat(" ", bl.indent-indent)+bl.text)
	}
	var s string
	if folded {
		var b strings.Builder
		for i, ln := range lines {
			if i > 0 {
				prev := lines[i-1]
				switch {
				case ln == "" || prev == "":
					b.WriteByte('\n')
				case strings.HasPrefix(ln, " ") || strings.HasPrefix(prev, " "):
					b.WriteByte('\n')
				default:
					b.WriteByte(' ')
				}
			}
			b.WriteString(ln)
		}
		s = b.String()
	} else {
		s = strings.Join(lines, "\n")
	}
	switch chomp {
	case '-':
	case '+':
		if len(lines) > 0 {
			s += "\n"
		}
		s += strings.Repeat("\n", trailing)
	default:
		if len(lines) > 0 {
			s += "\n"
		}
	}
	return s, nil
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolvePlain resolves a plain scalar as go-yaml v2 does when decoding into interface{}.
func resolvePlain(in string) any {
	switch in {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false
	case "", "~", "null", "Null", "NULL":
		return nil
	case ".nan", ".NaN", ".NAN":
		return math.NaN()
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1)
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1)
	}
	switch c := in[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return f
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		plain := strings.ReplaceAll(in, "_", "")
		if iv, err := strconv.ParseInt(plain, 0, 64); err == nil {
			if iv == int64(int(iv)) {
				return int(iv)
			}
			return iv
		}
		if uv, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return uv
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return f
			}
		}
		if strings.HasPrefix(plain, "0b") {
			if iv, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return int(iv)
			}
			if uv, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return uv
			}
		} else if strings.HasPrefix(plain, "-0b") {
			if iv, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return int(iv)
			}
		}
	}
	return in
}
