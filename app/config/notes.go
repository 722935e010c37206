package config

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Note is something etcd would log while reading its configuration: the level, message and
// fields etcd uses, so the caller can log it the same way once its logger exists.
type Note struct {
	Level  zapcore.Level
	Msg    string
	Fields []zap.Field
}

// String renders the note as one line: the message, then key=value fields.
func (n Note) String() string {
	if len(n.Fields) == 0 {
		return n.Msg
	}
	enc := zapcore.NewMapObjectEncoder()
	var b strings.Builder
	b.WriteString(n.Msg)
	for _, f := range n.Fields {
		f.AddTo(enc)
		fmt.Fprintf(&b, " %s=%v", f.Key, enc.Fields[f.Key])
	}
	return b.String()
}

type notes struct{ list []Note }

func (n *notes) add(lvl zapcore.Level, msg string, kv ...string) {
	var fields []zap.Field
	for i := 0; i+1 < len(kv); i += 2 {
		fields = append(fields, zap.String(kv[i], kv[i+1]))
	}
	n.list = append(n.list, Note{Level: lvl, Msg: msg, Fields: fields})
}

func (n *notes) info(msg string, kv ...string) { n.add(zapcore.InfoLevel, msg, kv...) }
func (n *notes) warn(msg string, kv ...string) { n.add(zapcore.WarnLevel, msg, kv...) }
