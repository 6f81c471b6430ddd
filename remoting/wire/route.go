package wire

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Permission bits of a topic's queues (upstream common/constant/PermName).
const (
	PermInherit  int32 = 1
	PermWrite    int32 = 2
	PermRead     int32 = 4
	PermPriority int32 = 8
)

// Bounds of the queue counts a route may carry. Clients build a list entry
// per queue, so a route claiming 2³¹ queues (a damaged or hostile name
// server's answer) would exhaust their memory; ParseTopicRoute refuses
// it instead. Real topics have tens to hundreds of queues per broker
// group (brokers here refuse more than 1,024) and routes a few groups.
const (
	MaxQueueNums   = 1 << 16 // one broker group's read or write queues
	MaxRouteQueues = 1 << 20 // all groups of one route together
)

// RoutableQueueNums reports whether one broker group's read and write
// queue counts are within what a route may carry (0–MaxQueueNums): what
// ParseTopicRoute accepts and what a name server may put in a route.
func RoutableQueueNums(read, write int32) bool {
	return read >= 0 && read <= MaxQueueNums && write >= 0 && write <= MaxQueueNums
}

// MasterID is the brokerId of a master; slaves use any other id.
const MasterID int64 = 0

// TopicRoute is a GET_ROUTEINFO_BY_TOPIC answer: which broker groups hold
// the topic and where their processes listen.
type TopicRoute struct {
	// OrderTopicConf is "brokerName:queueNums;..." for topics an admin
	// configured as globally ordered; when set, producers build their queue
	// list from it alone.
	OrderTopicConf string
	QueueDatas     []QueueData
	BrokerDatas    []BrokerData
}

// QueueData is one broker group's share of a topic.
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int32
	WriteQueueNums int32
	Perm           int32
	TopicSysFlag   int32
}

// Readable reports whether consumers may pull from these queues.
func (q QueueData) Readable() bool { return q.Perm&PermRead != 0 }

// Writable reports whether producers may send to these queues.
func (q QueueData) Writable() bool { return q.Perm&PermWrite != 0 }

// BrokerData is a broker group: a master (id 0) and its slaves.
type BrokerData struct {
	Cluster            string
	BrokerName         string
	BrokerAddrs        map[int64]string
	EnableActingMaster bool
	ZoneName           string
}

// MasterAddr returns the master's address, or "" when the group has no
// master (producers must then skip the group).
func (b *BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// SelectAddr returns the master's address, or when the master is gone the
// address of the lowest-numbered slave (fine for reads), or "".
func (b *BrokerData) SelectAddr() string {
	if a := b.BrokerAddrs[MasterID]; a != "" {
		return a
	}
	ids := make([]int64, 0, len(b.BrokerAddrs))
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return ""
	}
	return b.BrokerAddrs[slices.Min(ids)]
}

// Broker returns the group named name, or nil.
func (r *TopicRoute) Broker(name string) *BrokerData {
	for i := range r.BrokerDatas {
		if r.BrokerDatas[i].BrokerName == name {
			return &r.BrokerDatas[i]
		}
	}
	return nil
}

// wire forms, decoded by encoding/json after bare keys were quoted.
type wireQueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   *int32 `json:"topicSysFlag"`
	TopicSynFlag   *int32 `json:"topicSynFlag"` // 4.x spelling
}

type wireBrokerData struct {
	Cluster            string           `json:"cluster"`
	BrokerName         string           `json:"brokerName"`
	BrokerAddrs        map[int64]string `json:"brokerAddrs"`
	EnableActingMaster bool             `json:"enableActingMaster"`
	ZoneName           string           `json:"zoneName"`
}

type wireRoute struct {
	OrderTopicConf string           `json:"orderTopicConf"`
	QueueDatas     []wireQueueData  `json:"queueDatas"`
	BrokerDatas    []wireBrokerData `json:"brokerDatas"`
}

// ParseTopicRoute decodes a route body in either form a name server sends:
// standard JSON, or the bare-integer-key form ({0:"ip:port"}) an Apache name
// server writes for requesters it considers old (RouteInfoManager).
func ParseTopicRoute(body []byte) (*TopicRoute, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty route body", ErrMalformedBody)
	}
	var w wireRoute
	if err := json.Unmarshal(QuoteBareKeys(body), &w); err != nil {
		return nil, fmt.Errorf("%w: route: %v", ErrMalformedBody, err)
	}
	r := &TopicRoute{
		OrderTopicConf: w.OrderTopicConf,
		QueueDatas:     make([]QueueData, len(w.QueueDatas)),
		BrokerDatas:    make([]BrokerData, len(w.BrokerDatas)),
	}
	total := 0
	for i, q := range w.QueueDatas {
		if !RoutableQueueNums(q.ReadQueueNums, q.WriteQueueNums) {
			return nil, fmt.Errorf("%w: route: broker %q has %d read and %d write queues, outside 0–%d",
				ErrMalformedBody, q.BrokerName, q.ReadQueueNums, q.WriteQueueNums, MaxQueueNums)
		}
		if total += int(max(q.ReadQueueNums, q.WriteQueueNums)); total > MaxRouteQueues {
			return nil, fmt.Errorf("%w: route: more than %d queues", ErrMalformedBody, MaxRouteQueues)
		}
		r.QueueDatas[i] = QueueData{BrokerName: q.BrokerName, ReadQueueNums: q.ReadQueueNums, WriteQueueNums: q.WriteQueueNums, Perm: q.Perm}
		switch {
		case q.TopicSysFlag != nil:
			r.QueueDatas[i].TopicSysFlag = *q.TopicSysFlag
		case q.TopicSynFlag != nil:
			r.QueueDatas[i].TopicSysFlag = *q.TopicSynFlag
		}
	}
	for i, b := range w.BrokerDatas {
		if b.BrokerAddrs == nil {
			b.BrokerAddrs = make(map[int64]string)
		}
		r.BrokerDatas[i] = BrokerData(b)
	}
	return r, nil
}

// ClusterInfo is a GET_BROKER_CLUSTER_INFO answer.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData
	ClusterAddrTable map[string][]string // cluster → broker names
}

// ParseClusterInfo decodes a ClusterInfo body; Apache name servers always
// use bare integer keys here, ours uses standard JSON; both parse.
func ParseClusterInfo(body []byte) (*ClusterInfo, error) {
	var w struct {
		BrokerAddrTable  map[string]wireBrokerData `json:"brokerAddrTable"`
		ClusterAddrTable map[string][]string       `json:"clusterAddrTable"`
	}
	if err := json.Unmarshal(QuoteBareKeys(body), &w); err != nil {
		return nil, fmt.Errorf("%w: cluster info: %v", ErrMalformedBody, err)
	}
	ci := &ClusterInfo{BrokerAddrTable: make(map[string]BrokerData, len(w.BrokerAddrTable)), ClusterAddrTable: w.ClusterAddrTable}
	for name, b := range w.BrokerAddrTable {
		if b.BrokerAddrs == nil {
			b.BrokerAddrs = make(map[int64]string)
		}
		ci.BrokerAddrTable[name] = BrokerData(b)
	}
	if ci.ClusterAddrTable == nil {
		ci.ClusterAddrTable = make(map[string][]string)
	}
	return ci, nil
}

// QuoteBareKeys rewrites fastjson's bare integer object keys ({0:"a",1:"b"})
// into standard JSON ({"0":"a","1":"b"}). It quotes a run of digits (with an
// optional minus sign) only where a key may stand — right after '{' or ','
// outside strings — and only when a ':' follows; a number in that position
// followed by ':' is never valid JSON, so standard input passes through
// unchanged (and is returned without copying).
func QuoteBareKeys(b []byte) []byte {
	var out []byte // allocated on the first rewrite
	last := 0      // b[last:] not yet copied to out
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if c != '{' && c != ',' {
			continue
		}
		j := i + 1
		for j < len(b) && isJSONSpace(b[j]) {
			j++
		}
		start := j
		if j < len(b) && b[j] == '-' {
			j++
		}
		digits := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == digits {
			continue
		}
		end := j
		for j < len(b) && isJSONSpace(b[j]) {
			j++
		}
		if j >= len(b) || b[j] != ':' {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[last:start]...)
		out = append(out, '"')
		out = append(out, b[start:end]...)
		out = append(out, '"')
		last = end
		i = end - 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
