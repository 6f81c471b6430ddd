package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// The answers admin tools (mqadmin, rocketmq-dashboard, package admin)
// read to show connections, progress and the broker's running figures.
// Bodies use upstream's field names; maps keyed by MessageQueue use
// fastjson's object-key form, which Java tools parse.

// forwardTimeout bounds a broker→client call made for an admin tool
// (upstream waits 5–10 s).
const forwardTimeout = 10 * time.Second

// consumerStatusTimeout bounds GET_CONSUMER_STATUS_FROM_CLIENT, as
// upstream's 5 s.
const consumerStatusTimeout = 5 * time.Second

// connAddr is a client connection's remote address, for connection lists.
func connAddr(ch any) string {
	if c, ok := ch.(*transport.Conn); ok {
		return c.String()
	}
	return ""
}

// GET_CONSUMER_CONNECTION_LIST: who is in a consumer group.
func (b *Broker) processConsumerConnections(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ConsumerGroupHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	cc, ok := b.consumers.Connections(h.ConsumerGroup, connAddr)
	if !ok {
		reply(rc, req, remoting.ConsumerNotOnline, "the consumer group["+h.ConsumerGroup+"] not online")
		return
	}
	b.replyJSON(rc, req, cc)
}

// GET_PRODUCER_CONNECTION_LIST: who is in a producer group.
func (b *Broker) processProducerConnections(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ProducerGroupHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	conns, ok := b.producers.Connections(h.ProducerGroup, connAddr)
	if !ok {
		reply(rc, req, remoting.SystemError, "the producer group["+h.ProducerGroup+"] not exist")
		return
	}
	b.replyJSON(rc, req, struct {
		ConnectionSet []Connection `json:"connectionSet"`
	}{conns})
}

// GET_TOPIC_STATS_INFO: per queue, the min and max offsets and the store
// time of the newest message, plus the topic's put rate.
func (b *Broker) processTopicStats(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.TopicHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	t, ok := b.topics.Get(h.Topic)
	if !ok {
		reply(rc, req, remoting.TopicNotExist, "topic["+h.Topic+"] not exist")
		return
	}
	n := t.QueueNums()
	keys := make([]wire.MessageQueue, n)
	values := make([]string, n)
	for qid := range int32(n) {
		minOff, maxOff := b.store.MinOffset(h.Topic, qid), b.store.MaxOffset(h.Topic, qid)
		var last int64
		if maxOff > 0 {
			last, _ = b.store.StoreTime(h.Topic, qid, maxOff-1)
		}
		keys[qid] = wire.MessageQueue{Topic: h.Topic, BrokerName: b.cfg.BrokerName, QueueID: qid}
		values[qid] = fmt.Sprintf(`{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`, last, maxOff, minOff)
	}
	tps := strconv.FormatFloat(b.stats.topicPutTPS(h.Topic), 'f', -1, 64)
	replyHeader(rc, req, nil, wire.EncodeQueueTable("offsetTable", keys, values, `"topicPutTps":`+jsonFloat(tps)))
}

// jsonFloat makes sure a formatted float reads as one in Java ("1" → "1.0").
func jsonFloat(s string) string {
	if strings.ContainsAny(s, ".eE") {
		return s
	}
	return s + ".0"
}

// consumeStats is upstream's ConsumeStats body for one group over topics,
// with its total lag and in-flight count.
func (b *Broker) consumeStats(group string, topics []string, order bool) (body []byte, diff, inflight int64, any bool) {
	var keys []wire.MessageQueue
	var values []string
	tps := 0.0
	for _, topic := range topics {
		t, ok := b.topics.Get(topic)
		if !ok || (order && !t.Order) {
			continue
		}
		for qid := range int32(t.ReadQueueNums) {
			p := b.queueProgress(group, topic, qid)
			keys = append(keys, wire.MessageQueue{Topic: topic, BrokerName: b.cfg.BrokerName, QueueID: qid})
			values = append(values, fmt.Sprintf(`{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d,"pullOffset":%d}`,
				p.BrokerOffset, p.ConsumerOffset, p.LastTimestamp, p.PullOffset))
			diff += p.BrokerOffset - p.ConsumerOffset
			inflight += p.PullOffset - p.ConsumerOffset
		}
		tps += b.stats.groupGetTPS(group, topic)
		any = true
	}
	extra := `"consumeTps":` + jsonFloat(strconv.FormatFloat(tps, 'f', -1, 64))
	return wire.EncodeQueueTable("offsetTable", keys, values, extra), diff, inflight, any
}

// statsTopics picks the topics GET_CONSUME_STATS reports for group, as
// upstream: the listed topics as given; otherwise the one named, or every
// topic the group has offsets on, dropping those the group's online
// members do not subscribe to.
func (b *Broker) statsTopics(group, topic, topicList string) []string {
	if topicList != "" {
		var out []string
		for _, t := range strings.Split(topicList, ";") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out
	}
	topics := []string{topic}
	if topic == "" {
		topics = b.offsets.TopicsOf(group)
	}
	subscribed := b.consumers.Topics(group)
	if len(subscribed) == 0 {
		return topics
	}
	return slices.DeleteFunc(topics, func(t string) bool { return !slices.Contains(subscribed, t) })
}

// GET_CONSUME_STATS: per queue, the broker's max offset, the group's
// committed and pull offsets and the store time of the last consumed
// message, and the group's consume rate: what consumerProgress shows.
func (b *Broker) processConsumeStats(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.GetConsumeStatsRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if h.Topic != "" {
		if _, ok := b.topics.Get(h.Topic); !ok {
			reply(rc, req, remoting.TopicNotExist, "topic["+h.Topic+"] not exist")
			return
		}
	}
	topics := b.statsTopics(h.ConsumerGroup, h.Topic, h.TopicList)
	if _, known := b.groups.Get(h.ConsumerGroup); !known && len(topics) == 0 && len(b.consumers.ClientIDs(h.ConsumerGroup)) == 0 {
		reply(rc, req, remoting.SubscriptionGroupNotExist, "subscription group ["+h.ConsumerGroup+"] does not exist")
		return
	}
	body, _, _, _ := b.consumeStats(h.ConsumerGroup, topics, false)
	replyHeader(rc, req, nil, body)
}

// GET_BROKER_CONSUME_STATS: the consume stats of every subscription group
// on every topic it has offsets on (only ordered topics with isOrder), and
// the broker-wide lag: brokerConsumeStats and the dashboard's overview.
func (b *Broker) processBrokerConsumeStats(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.GetConsumeStatsInBrokerHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	groups, _ := b.groups.Snapshot()
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	var totalDiff, totalInflight int64
	var out strings.Builder
	out.WriteString(`{"brokerAddr":`)
	addr, _ := json.Marshal(b.addr)
	out.Write(addr)
	out.WriteString(`,"consumeStatsList":[`)
	for i, group := range names {
		if i > 0 {
			out.WriteByte(',')
		}
		var list []string
		for _, topic := range b.statsTopics(group, "", "") {
			body, diff, inflight, ok := b.consumeStats(group, []string{topic}, h.IsOrder)
			if !ok {
				continue
			}
			list = append(list, string(body))
			totalDiff += diff
			totalInflight += inflight
		}
		name, _ := json.Marshal(group)
		fmt.Fprintf(&out, `{%s:[%s]}`, name, strings.Join(list, ","))
	}
	fmt.Fprintf(&out, `],"totalDiff":%d,"totalInflightDiff":%d}`, totalDiff, totalInflight)
	replyHeader(rc, req, nil, []byte(out.String()))
}

// QUERY_TOPIC_CONSUME_BY_WHO: the groups consuming a topic, online or with
// offsets on it.
func (b *Broker) processTopicConsumedBy(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.TopicHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	groups := append(b.consumers.GroupsOf(h.Topic), b.offsets.GroupsOf(h.Topic)...)
	slices.Sort(groups)
	b.replyJSON(rc, req, struct {
		GroupList []string `json:"groupList"`
	}{slices.Compact(groups)})
}

// consumeQueueData is upstream's ConsumeQueueData.
type consumeQueueData struct {
	PhysicOffset   int64  `json:"physicOffset"`
	PhysicSize     int32  `json:"physicSize"`
	TagsCode       int64  `json:"tagsCode"`
	ExtendDataJSON string `json:"extendDataJson,omitempty"`
	BitMap         string `json:"bitMap,omitempty"`
	Eval           bool   `json:"eval"`
	Msg            string `json:"msg,omitempty"`
}

// QUERY_CONSUME_QUEUE: raw consume-queue entries, and whether each passes
// a group's subscription (queryCq, for debugging filters).
func (b *Broker) processQueryConsumeQueue(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.QueryConsumeQueueRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	t, ok := b.topics.Get(h.Topic)
	if !ok || h.QueueID < 0 || h.QueueID >= t.QueueNums() {
		reply(rc, req, remoting.SystemError, fmt.Sprintf("%d@%s is not exist!", h.QueueID, h.Topic))
		return
	}
	body := struct {
		SubscriptionData *wire.SubscriptionData `json:"subscriptionData"`
		FilterData       string                 `json:"filterData,omitempty"`
		QueueData        []consumeQueueData     `json:"queueData"`
		MaxQueueIndex    int64                  `json:"maxQueueIndex"`
		MinQueueIndex    int64                  `json:"minQueueIndex"`
	}{
		MaxQueueIndex: b.store.MaxOffset(h.Topic, h.QueueID),
		MinQueueIndex: b.store.MinOffset(h.Topic, h.QueueID),
		QueueData:     []consumeQueueData{},
	}
	var match func(tagsCode int64, phy int64) bool
	if h.ConsumerGroup != "" {
		if sub, ok := b.consumers.Subscription(h.ConsumerGroup, h.Topic); ok {
			body.SubscriptionData = &sub
			body.FilterData = sub.ExpressionType + ": " + sub.SubString
			match = b.subscriptionMatcher(sub)
		} else {
			body.FilterData = fmt.Sprintf("%s@%s is not online!", h.ConsumerGroup, h.Topic)
		}
	}
	entries, err := b.store.QueueEntries(h.Topic, h.QueueID, h.Index, int(h.Count))
	if err != nil && body.MaxQueueIndex > 0 {
		reply(rc, req, remoting.SystemError, err.Error())
		return
	}
	for _, e := range entries {
		d := consumeQueueData{PhysicOffset: e.PhysicalOffset, PhysicSize: e.Size, TagsCode: e.TagsCode}
		if match != nil {
			d.Eval = match(e.TagsCode, e.PhysicalOffset)
		}
		body.QueueData = append(body.QueueData, d)
	}
	b.replyJSON(rc, req, body)
}

// subscriptionMatcher evaluates a subscription against one consume-queue
// entry: its tag code, and for SQL92 the message's properties.
func (b *Broker) subscriptionMatcher(sub wire.SubscriptionData) func(tagsCode, phy int64) bool {
	expr, code, _ := b.compileSubscription(&sub)
	if code != remoting.Success {
		return func(int64, int64) bool { return false }
	}
	if expr == nil {
		return func(tagsCode, _ int64) bool { return sub.MatchAll() || sub.MatchesCode(tagsCode) }
	}
	return func(_, phy int64) bool {
		res, err := b.store.MessageAt(phy)
		if err != nil {
			return false
		}
		defer res.Release()
		rec, err := message.ParseStored(res.Buffers[0], false)
		return err == nil && expr.MatchRaw(rec.Properties)
	}
}

// CLONE_GROUP_OFFSET: copy one group's committed offsets to another, on one
// topic or on every topic the source has offsets on.
func (b *Broker) processCloneGroupOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.CloneGroupOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if h.SrcGroup == h.DestGroup {
		reply(rc, req, remoting.InvalidParameter, "srcGroup and destGroup are the same group")
		return
	}
	topics := []string{h.Topic}
	if h.Topic == "" {
		topics = b.offsets.TopicsOf(h.SrcGroup)
	} else if _, ok := b.topics.Get(h.Topic); !ok {
		reply(rc, req, remoting.TopicNotExist, "topic["+h.Topic+"] not exist")
		return
	}
	subscribed := b.consumers.Topics(h.SrcGroup)
	cloned := 0
	for _, topic := range topics {
		if _, ok := b.topics.Get(topic); !ok {
			continue
		}
		// Online, the source must subscribe to the topic, as upstream.
		if !h.Offline && len(subscribed) > 0 && !slices.Contains(subscribed, topic) {
			continue
		}
		if b.offsets.Clone(h.SrcGroup, h.DestGroup, topic) {
			cloned++
		}
	}
	if cloned == 0 {
		reply(rc, req, remoting.QueryNotFound, "group "+h.SrcGroup+" has no committed offsets to clone")
		return
	}
	b.log.Info("cloned group offsets", "from", h.SrcGroup, "to", h.DestGroup, "topics", cloned)
	reply(rc, req, remoting.Success, "")
}

// INVOKE_BROKER_TO_GET_CONSUMER_STATUS: ask every member of a group (or the
// one whose client id is clientAddr) for its offsets on a topic, all at
// once, and answer {"consumerTable":{clientId:{queue:offset}}}.
func (b *Broker) processGetConsumerStatus(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.GetConsumerStatusRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	type member struct {
		clientID string
		conn     *transport.Conn
	}
	var members []member
	for _, m := range b.consumers.Members(h.Group) {
		if conn, ok := m.Channel.(*transport.Conn); ok && (h.ClientAddr == "" || h.ClientAddr == m.ClientID) {
			members = append(members, member{m.ClientID, conn})
		}
	}
	if len(members) == 0 {
		reply(rc, req, remoting.SystemError, "No Any Consumer online in the consumer group: ["+h.Group+"]")
		return
	}
	b.goRequest(func() {
		ctx, cancel := context.WithTimeout(context.Background(), consumerStatusTimeout)
		defer cancel()
		tables := make([][]byte, len(members))
		var wg sync.WaitGroup
		for i, m := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ask := remoting.NewRequest(remoting.GetConsumerStatusFromClient, &remoting.GetConsumerStatusRequestHeader{Topic: h.Topic, Group: h.Group}, nil)
				resp, err := m.conn.Invoke(ctx, ask)
				if err != nil || resp.Code != remoting.Success {
					b.log.Debug("consumer status from client failed", "client", m.clientID, "err", err)
					return
				}
				offsets, err := wire.DecodeQueueLongTable(resp.Body, "messageQueueTable")
				if err != nil {
					b.log.Debug("consumer status from client unreadable", "client", m.clientID, "err", err)
					return
				}
				tables[i] = encodeQueueOffsets(offsets)
			}()
		}
		wg.Wait()
		var out []byte
		out = append(out, `{"consumerTable":{`...)
		first := true
		for i, m := range members {
			if tables[i] == nil {
				continue
			}
			if !first {
				out = append(out, ',')
			}
			first = false
			id, _ := json.Marshal(m.clientID)
			out = append(out, id...)
			out = append(out, ':')
			out = append(out, tables[i]...)
		}
		out = append(out, `},"messageQueueTable":{}}`...)
		replyHeader(rc, req, nil, out)
	})
}

// encodeQueueOffsets writes a queue→offset map in fastjson's form, sorted.
func encodeQueueOffsets(offsets map[wire.MessageQueue]int64) []byte {
	keys := make([]wire.MessageQueue, 0, len(offsets))
	for mq := range offsets {
		keys = append(keys, mq)
	}
	slices.SortFunc(keys, wire.CompareQueues)
	values := make([]string, len(keys))
	for i, mq := range keys {
		values[i] = strconv.FormatInt(offsets[mq], 10)
	}
	return wire.AppendQueueMap(nil, keys, values)
}

// GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY sent by an admin
// tool to the broker are relayed to the named client on its own connection,
// and its answer relayed back. CONSUME_MESSAGE_DIRECTLY carries the message
// (found by its offset id) as the body.
func (b *Broker) processForwardToConsumer(rc *transport.RequestContext, req *remoting.Command) {
	group, _ := req.Ext.Get("consumerGroup")
	clientID, _ := req.Ext.Get("clientId")
	ch, ok := b.consumers.ChannelOf(group, clientID)
	conn, isConn := ch.(*transport.Conn)
	if !ok || !isConn {
		reply(rc, req, remoting.SystemError, "the consumer <"+clientID+"> of group <"+group+"> is not online")
		return
	}
	fwd := remoting.NewRequest(req.Code, nil, nil)
	req.Ext.Range(func(k, v string) bool { fwd.Ext.Set(k, v); return true })
	if req.Code == remoting.ConsumeMessageDirectly {
		msgID, _ := req.Ext.Get("msgId")
		_, phy, err := message.ParseOffsetMsgID(msgID)
		if err != nil {
			reply(rc, req, remoting.InvalidParameter, "msgId must be an offset message id: "+err.Error())
			return
		}
		res, err := b.store.MessageAt(phy)
		if err != nil || res.MsgCount == 0 {
			if res != nil {
				res.Release()
			}
			reply(rc, req, remoting.SystemError, "no message at offset "+strconv.FormatInt(phy, 10))
			return
		}
		fwd.Body = append([]byte(nil), res.Buffers[0]...)
		res.Release()
		// As upstream's broker does: the stored message does not carry the
		// name of the broker it is on, and the client's listener sees it.
		fwd.Ext.Set("brokerName", b.cfg.BrokerName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	resp, err := conn.Invoke(ctx, fwd)
	if err != nil {
		reply(rc, req, remoting.SystemError, "forwarding to "+clientID+" failed: "+err.Error())
		return
	}
	out := remoting.NewResponse(req, resp.Code, resp.Remark)
	resp.Ext.Range(func(k, v string) bool { out.Ext.Set(k, v); return true })
	out.Body = resp.Body
	rc.Reply(out)
}

// GET_BROKER_RUNTIME_INFO: a KVTable of the broker's running figures, with
// upstream's keys (mqadmin brokerStatus and clusterList, the dashboard).
// Sends run inline on the network loops, so there is no send queue; the
// pull "queue" is the server's worker queue.
func (b *Broker) processRuntimeInfo(rc *transport.RequestContext, req *remoting.Command) {
	_, version := b.topics.Snapshot()
	health, earliest := b.StoreHealth()
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	diskRatio := "0.0"
	if health.DiskTotalBytes > 0 {
		diskRatio = strconv.FormatFloat(float64(health.DiskUsedBytes)/float64(health.DiskTotalBytes), 'f', -1, 64)
	}
	table := map[string]string{
		"brokerVersion":                        strconv.Itoa(VersionOrdinal),
		"brokerVersionDesc":                    "V5_3_3",
		"brokerActive":                         "true",
		"bootTimestamp":                        i64(b.started.UnixMilli()),
		"runtime":                              formatRuntime(b.uptime()),
		"commitLogMinOffset":                   i64(b.store.MinPhysicalOffset()),
		"commitLogMaxOffset":                   i64(b.store.MaxPhysicalOffset()),
		"commitLogDiskRatio":                   diskRatio,
		"consumeQueueDiskRatio":                diskRatio, // one directory tree, one file system
		"dispatchBehindBytes":                  i64(health.DispatchBehindBytes),
		"remainHowManyDataToFlush":             humanBytes(health.FlushBehindBytes),
		"earliestMessageTimeStamp":             i64(earliest),
		"startAcceptSendRequestTimeStamp":      "0",
		"pageCacheLockTimeMills":               "0",
		"remainTransientStoreBufferNumbs":      "0",
		"sendThreadPoolQueueSize":              strconv.Itoa(len(b.sends.tasks)),
		"sendThreadPoolQueueCapacity":          strconv.Itoa(cap(b.sends.tasks)),
		"pullThreadPoolQueueSize":              strconv.Itoa(b.server.QueueLen()),
		"pullThreadPoolQueueCapacity":          strconv.Itoa(transport.DefaultQueueSize),
		"sendThreadPoolQueueHeadWaitTimeMills": "0",
		"pullThreadPoolQueueHeadWaitTimeMills": "0",
		"timerReadBehind":                      "0",
		"timerOffsetBehind":                    "0",
		"timerCongestNum":                      "0",
		"timerEnqueueTps":                      "0.0",
		"timerDequeueTps":                      "0.0",
		"topicDataVersion":                     i64(version.Counter),
		"brokerRole":                           b.currentRole().name,
		"flushDiskType":                        b.cfg.FlushDiskType,
		"goVersion":                            strings.TrimPrefix(runtime.Version(), "go"),
		"pid":                                  strconv.Itoa(os.Getpid()),
	}
	b.stats.runtimeInfo(table)
	b.replyJSON(rc, req, struct {
		Table map[string]string `json:"table"`
	}{table})
}
