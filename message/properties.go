package message

import (
	"bytes"
	"strings"
)

// Property strings join pairs as key 0x01 value 0x02 (upstream MessageDecoder.messageProperties2String). Every
// pair ends with 0x02, as both the Java and Go clients write them.
const (
	NameValueSeparator = '\x01'
	PropertySeparator  = '\x02'
)

// LookupProperty finds key in an encoded property string without allocating.
func LookupProperty(props []byte, key string) ([]byte, bool) {
	for len(props) > 0 {
		end := bytes.IndexByte(props, PropertySeparator)
		pair := props
		if end >= 0 {
			pair, props = props[:end], props[end+1:]
		} else {
			props = nil
		}
		sep := bytes.IndexByte(pair, NameValueSeparator)
		if sep < 0 {
			continue
		}
		if string(pair[:sep]) == key {
			return pair[sep+1:], true
		}
	}
	return nil, false
}

// AppendProperty appends one encoded pair. Keys and values must not contain
// the separators; callers validate user input before it reaches here.
func AppendProperty(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, NameValueSeparator)
	dst = append(dst, value...)
	return append(dst, PropertySeparator)
}

// ValidPropertyText reports whether s can be stored as a property key or value.
func ValidPropertyText(s string) bool {
	return !strings.ContainsAny(s, "\x01\x02")
}
