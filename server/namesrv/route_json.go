package namesrv

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// The encoders below write compact standard JSON by hand. Two reasons: the
// route answer is the name server's hottest path, and the official Go client
// (v2.1.2) parses brokerAddrs by splitting the raw text on ',' and ':', so
// the exact bytes matter — quoted numeric keys, no whitespace anywhere
// (upstream TopicRouteData as fastjson writes it). Keys are written in sorted order, matching what
// encoding/json and fastjson produce, so captures diff cleanly.

// appendRouteJSON writes a TopicRouteData body:
//
//	{"brokerDatas":[...],"filterServerTable":{},"orderTopicConf":"...","queueDatas":[...]}
//
// orderTopicConf appears only when non-empty: producers that see it build
// their queue list from it alone.
func appendRouteJSON(dst []byte, orderConf string, qds []*queueData, bds []*brokerData) []byte {
	dst = append(dst, `{"brokerDatas":[`...)
	for i, bd := range bds {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBrokerDataJSON(dst, bd)
	}
	dst = append(dst, `],"filterServerTable":{}`...)
	if orderConf != "" {
		dst = append(dst, `,"orderTopicConf":`...)
		dst = appendJSONString(dst, orderConf)
	}
	dst = append(dst, `,"queueDatas":[`...)
	for i, qd := range qds {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"brokerName":`...)
		dst = appendJSONString(dst, qd.brokerName)
		dst = append(dst, `,"perm":`...)
		dst = strconv.AppendInt(dst, int64(qd.perm), 10)
		dst = append(dst, `,"readQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(qd.readQueueNums), 10)
		dst = append(dst, `,"topicSysFlag":`...)
		dst = strconv.AppendInt(dst, int64(qd.topicSysFlag), 10)
		dst = append(dst, `,"writeQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(qd.writeQueueNums), 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendBrokerDataJSON writes one BrokerData; brokerAddrs is always present
// (the Go client panics without it) with ids in ascending order, master first.
func appendBrokerDataJSON(dst []byte, bd *brokerData) []byte {
	dst = append(dst, `{"brokerAddrs":{`...)
	var idsBuf [8]int64
	ids := idsBuf[:0]
	for id := range bd.addrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, id, 10)
		dst = append(dst, `":`...)
		dst = appendJSONString(dst, bd.addrs[id])
	}
	dst = append(dst, `},"brokerName":`...)
	dst = appendJSONString(dst, bd.brokerName)
	dst = append(dst, `,"cluster":`...)
	dst = appendJSONString(dst, bd.cluster)
	dst = append(dst, `,"enableActingMaster":`...)
	dst = strconv.AppendBool(dst, bd.enableActingMaster)
	if bd.zoneName != "" {
		dst = append(dst, `,"zoneName":`...)
		dst = appendJSONString(dst, bd.zoneName)
	}
	return append(dst, '}')
}

// appendClusterInfoJSON writes the ClusterInfo body. Upstream writes bare
// integer keys here; we write standard JSON, which every parser of the
// bare form (fastjson, ons's JSON2, our nsclient) also accepts.
func appendClusterInfoJSON(dst []byte, brokers map[string]*brokerData, clusters map[string]map[string]struct{}) []byte {
	dst = append(dst, `{"brokerAddrTable":{`...)
	names := make([]string, 0, len(brokers))
	for name := range brokers {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		dst = appendBrokerDataJSON(dst, brokers[name])
	}
	dst = append(dst, `},"clusterAddrTable":{`...)
	cnames := make([]string, 0, len(clusters))
	for c := range clusters {
		cnames = append(cnames, c)
	}
	slices.Sort(cnames)
	for i, c := range cnames {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c)
		dst = append(dst, ':')
		members := make([]string, 0, len(clusters[c]))
		for n := range clusters[c] {
			members = append(members, n)
		}
		slices.Sort(members)
		dst = appendJSONStrings(dst, members)
	}
	return append(dst, "}}"...)
}

// appendTopicListJSON writes {"brokerAddr":"...","topicList":[...]}; the
// address is omitted when empty.
func appendTopicListJSON(dst []byte, topics []string, brokerAddr string) []byte {
	dst = append(dst, '{')
	if brokerAddr != "" {
		dst = append(dst, `"brokerAddr":`...)
		dst = appendJSONString(dst, brokerAddr)
		dst = append(dst, ',')
	}
	dst = append(dst, `"topicList":`...)
	dst = appendJSONStrings(dst, topics)
	return append(dst, '}')
}

// appendKVTableJSON writes a KVTable body {"table":{k:v,...}} with sorted keys.
func appendKVTableJSON(dst []byte, table map[string]string) []byte {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, `{"table":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, table[k])
	}
	return append(dst, "}}"...)
}

func appendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so the output is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
