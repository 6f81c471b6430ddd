package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// GroupConfig is a subscription group's configuration in upstream's JSON
// form. NewGroupConfig fills RocketMQ's defaults.
type GroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	ConsumeMessageOrderly          bool   `json:"consumeMessageOrderly"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// NewGroupConfig returns upstream's defaults for group: consuming
// enabled, one retry queue, 16 retries before the dead-letter queue.
func NewGroupConfig(group string) GroupConfig {
	return GroupConfig{
		GroupName: group, ConsumeEnable: true, ConsumeFromMinEnable: true, ConsumeBroadcastEnable: true,
		RetryQueueNums: 1, RetryMaxTimes: 16, WhichBrokerWhenConsumeSlowly: 1, NotifyConsumerIdsChangedEnable: true,
	}
}

// CreateGroup creates or updates a subscription group
// (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) on brokerAddr, or on every master
// of cluster ("" for all).
func (c *Client) CreateGroup(ctx context.Context, g GroupConfig, cluster, brokerAddr string) error {
	if g.GroupName == "" {
		return errors.New("admin: create group: no group name")
	}
	body, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("admin: create group: %w", err)
	}
	addrs, err := c.masters(ctx, cluster, brokerAddr)
	if err != nil {
		return fmt.Errorf("admin: create group %s: %w", g.GroupName, err)
	}
	for _, addr := range addrs {
		if _, err := c.call(ctx, addr, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil, body)); err != nil {
			return fmt.Errorf("admin: create group %s: %w", g.GroupName, err)
		}
	}
	return nil
}

// DeleteGroup deletes a subscription group (DELETE_SUBSCRIPTIONGROUP) from
// brokerAddr, or from every master of cluster ("" for all).
func (c *Client) DeleteGroup(ctx context.Context, group, cluster, brokerAddr string) error {
	addrs, err := c.masters(ctx, cluster, brokerAddr)
	if err != nil {
		return fmt.Errorf("admin: delete group %s: %w", group, err)
	}
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.DeleteSubscriptionGroup, nil, nil)
		req.Ext.Set("groupName", group)
		if _, err := c.call(ctx, addr, req); err != nil {
			return fmt.Errorf("admin: delete group %s: %w", group, err)
		}
	}
	return nil
}

// QueueProgress is a group's position in one queue.
type QueueProgress struct {
	Topic          string `json:"topic"`
	Broker         string `json:"brokerName"`
	QueueID        int32  `json:"queueId"`
	BrokerOffset   int64  `json:"brokerOffset"`   // next offset the broker will store
	ConsumerOffset int64  `json:"consumerOffset"` // committed by the group
	Lag            int64  `json:"lag"`            // BrokerOffset − ConsumerOffset
	LastTimestamp  int64  `json:"lastTimestamp"`  // store time (ms) of the last consumed message, 0 if none
}

// Progress is a consumer group's progress over its topics.
type Progress struct {
	Group      string          `json:"group"`
	Queues     []QueueProgress `json:"queues"` // sorted by topic, broker, queue
	TotalLag   int64           `json:"diffTotal"`
	ConsumeTPS float64         `json:"consumeTps"`
}

// ConsumerProgress asks every master for group's consume statistics
// (GET_CONSUME_STATS), optionally for one topic. A group no broker knows is
// ErrGroupNotFound.
func (c *Client) ConsumerProgress(ctx context.Context, group, topic string) (Progress, error) {
	addrs, err := c.masters(ctx, "", "")
	if err != nil {
		return Progress{}, fmt.Errorf("admin: progress of %s: %w", group, err)
	}
	p := Progress{Group: group}
	known := false
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.GetConsumeStats, &remoting.GetConsumeStatsRequestHeader{ConsumerGroup: group, Topic: topic}, nil)
		resp, err := c.call(ctx, addr, req, remoting.SubscriptionGroupNotExist, remoting.TopicNotExist, remoting.ConsumerNotOnline)
		if err != nil {
			return Progress{}, fmt.Errorf("admin: progress of %s: %w", group, err)
		}
		if resp.Code != remoting.Success {
			continue
		}
		known = true
		table, err := wire.DecodeQueueTable(resp.Body, "offsetTable")
		if err != nil {
			return Progress{}, fmt.Errorf("%w: progress of %s: %v", ErrMalformed, group, err)
		}
		p.ConsumeTPS += consumeTPS(resp.Body)
		for mq, raw := range table {
			var v struct{ BrokerOffset, ConsumerOffset, LastTimestamp int64 }
			if err := json.Unmarshal(raw, &v); err != nil {
				return Progress{}, fmt.Errorf("%w: progress of %s: %v", ErrMalformed, group, err)
			}
			if IsRetryTopic(mq.Topic) && topic == "" && v.BrokerOffset == 0 {
				continue
			}
			q := QueueProgress{Topic: mq.Topic, Broker: mq.BrokerName, QueueID: mq.QueueID, BrokerOffset: v.BrokerOffset,
				ConsumerOffset: v.ConsumerOffset, LastTimestamp: v.LastTimestamp}
			q.Lag = max(q.BrokerOffset-max(q.ConsumerOffset, 0), 0)
			p.TotalLag += q.Lag
			p.Queues = append(p.Queues, q)
		}
	}
	if !known {
		return Progress{}, fmt.Errorf("%w: %s", ErrGroupNotFound, group)
	}
	sort.Slice(p.Queues, func(i, j int) bool {
		a, b := p.Queues[i], p.Queues[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Broker != b.Broker {
			return a.Broker < b.Broker
		}
		return a.QueueID < b.QueueID
	})
	return p, nil
}

// IsRetryTopic reports whether topic is a group's retry topic.
func IsRetryTopic(topic string) bool { return len(topic) > 7 && topic[:7] == "%RETRY%" }

// consumeTPS reads ConsumeStats' consumeTps member, which follows the
// fastjson-keyed table (0 when absent).
func consumeTPS(body []byte) float64 {
	const key = `"consumeTps":`
	i := bytes.LastIndex(body, []byte(key))
	if i < 0 {
		return 0
	}
	rest := body[i+len(key):]
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(string(bytes.TrimSpace(rest[:end])), 64)
	return v
}

// Connection is one client connected to a broker.
type Connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int16  `json:"version"`
}

// ConsumerConnections is GET_CONSUMER_CONNECTION_LIST's answer, merged over
// the masters.
type ConsumerConnections struct {
	Connections      []Connection                     `json:"connectionSet"`
	Subscriptions    map[string]wire.SubscriptionData `json:"subscriptionTable"`
	ConsumeType      string                           `json:"consumeType"`
	MessageModel     string                           `json:"messageModel"`
	ConsumeFromWhere string                           `json:"consumeFromWhere"`
}

// ConsumerConnections lists the members of a consumer group. A group with
// no member online is an error matching remoting.CodeError(remoting.ConsumerNotOnline).
func (c *Client) ConsumerConnections(ctx context.Context, group string) (ConsumerConnections, error) {
	addrs, err := c.masters(ctx, "", "")
	if err != nil {
		return ConsumerConnections{}, fmt.Errorf("admin: connections of %s: %w", group, err)
	}
	var out ConsumerConnections
	seen := map[string]bool{}
	var lastErr error
	for _, addr := range addrs {
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetConsumerConnectionList, &remoting.ConsumerGroupHeader{ConsumerGroup: group}, nil))
		if err != nil {
			lastErr = err
			continue
		}
		var cc ConsumerConnections
		if err := decodeJSON("consumer connections", resp.Body, &cc); err != nil {
			return ConsumerConnections{}, err
		}
		if out.Subscriptions == nil {
			out = cc
			out.Connections = nil
		}
		for _, conn := range cc.Connections {
			if !seen[conn.ClientID] {
				seen[conn.ClientID] = true
				out.Connections = append(out.Connections, conn)
			}
		}
	}
	if len(out.Connections) == 0 {
		if lastErr == nil {
			lastErr = remoting.CodeError(remoting.ConsumerNotOnline)
		}
		return ConsumerConnections{}, fmt.Errorf("admin: connections of %s: %w", group, lastErr)
	}
	sort.Slice(out.Connections, func(i, j int) bool { return out.Connections[i].ClientID < out.Connections[j].ClientID })
	return out, nil
}

// ProducerConnections lists the members of a producer group, asking the
// masters that route topic (every master when topic is "").
func (c *Client) ProducerConnections(ctx context.Context, group, topic string) ([]Connection, error) {
	var addrs []string
	if topic != "" {
		r, err := c.Route(ctx, topic)
		if err != nil {
			return nil, err
		}
		for _, bd := range r.BrokerDatas {
			if a := bd.MasterAddr(); a != "" {
				addrs = append(addrs, a)
			}
		}
	} else {
		var err error
		if addrs, err = c.masters(ctx, "", ""); err != nil {
			return nil, fmt.Errorf("admin: producer connections of %s: %w", group, err)
		}
	}
	seen := map[string]bool{}
	var out []Connection
	var lastErr error
	for _, addr := range addrs {
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetProducerConnectionList, &remoting.ProducerGroupHeader{ProducerGroup: group}, nil))
		if err != nil {
			lastErr = err
			continue
		}
		var pc struct {
			ConnectionSet []Connection `json:"connectionSet"`
		}
		if err := decodeJSON("producer connections", resp.Body, &pc); err != nil {
			return nil, err
		}
		for _, conn := range pc.ConnectionSet {
			if !seen[conn.ClientID] {
				seen[conn.ClientID] = true
				out = append(out, conn)
			}
		}
	}
	if len(out) == 0 && lastErr != nil {
		return nil, fmt.Errorf("admin: producer connections of %s: %w", group, lastErr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out, nil
}

// QueueOffset is a queue and an offset in it.
type QueueOffset struct {
	Topic   string `json:"topic"`
	Broker  string `json:"brokerName"`
	QueueID int32  `json:"queueId"`
	Offset  int64  `json:"offset"`
}

// ResetOffsetByTime moves group's offsets on topic to the first message
// stored at or after at, on every master routing topic
// (INVOKE_BROKER_TO_RESET_OFFSET); live push consumers are told and
// re-deliver from there. Without force an offset only moves backwards.
func (c *Client) ResetOffsetByTime(ctx context.Context, group, topic string, at time.Time, force bool) ([]QueueOffset, error) {
	r, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueOffset
	for _, bd := range r.BrokerDatas {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		h := &remoting.ResetOffsetRequestHeader{Topic: topic, Group: group, Timestamp: at.UnixMilli(), IsForce: force, QueueID: -1, Offset: -1}
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.InvokeBrokerToResetOffset, h, nil))
		if err != nil {
			return nil, fmt.Errorf("admin: reset offset of %s on %s: %w", group, topic, err)
		}
		table, err := wire.DecodeOffsetTable(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: reset offset: %v", ErrMalformed, err)
		}
		for mq, off := range table {
			out = append(out, QueueOffset{Topic: mq.Topic, Broker: mq.BrokerName, QueueID: mq.QueueID, Offset: off})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Broker != out[j].Broker {
			return out[i].Broker < out[j].Broker
		}
		return out[i].QueueID < out[j].QueueID
	})
	return out, nil
}

// ConsumerRunningInfo asks one consumer, through a broker it is connected
// to, for its running information (GET_CONSUMER_RUNNING_INFO); the JSON is
// returned as the client wrote it (properties, subscriptions, per-queue
// process state, statuses).
func (c *Client) ConsumerRunningInfo(ctx context.Context, group, clientID string) (json.RawMessage, error) {
	addrs, err := c.masters(ctx, "", "")
	if err != nil {
		return nil, fmt.Errorf("admin: running info of %s: %w", clientID, err)
	}
	var lastErr error
	for _, addr := range addrs {
		h := &remoting.GetConsumerRunningInfoRequestHeader{ConsumerGroup: group, ClientID: clientID}
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetConsumerRunningInfo, h, nil))
		if err != nil {
			lastErr = err
			continue
		}
		return json.RawMessage(wire.QuoteBareKeys(resp.Body)), nil
	}
	return nil, fmt.Errorf("admin: running info of %s in %s: %w", clientID, group, lastErr)
}

// DirectResult is a consumer's verdict on a message it was asked to
// consume directly (upstream's ConsumeMessageDirectlyResult).
type DirectResult struct {
	Order      bool `json:"order"`
	AutoCommit bool `json:"autoCommit"`
	// Result is CR_SUCCESS, CR_LATER, CR_ROLLBACK, CR_COMMIT,
	// CR_THROW_EXCEPTION or CR_RETURN_NULL.
	Result      string `json:"consumeResult"`
	Remark      string `json:"remark"`
	SpentMillis int64  `json:"spentTimeMills"`
}

// ConsumeMessageDirectly asks the consumer clientID of group to run the
// message whose offset message id is msgID through its listener now,
// outside its normal flow (CONSUME_MESSAGE_DIRECTLY): the request goes to
// the broker storing the message, which relays it with the message to the
// client over the client's own connection. Nothing is acknowledged or
// committed; the listener's verdict comes back. topic may be "" (the
// client takes the message's own).
func (c *Client) ConsumeMessageDirectly(ctx context.Context, group, clientID, topic, msgID string) (DirectResult, error) {
	host, _, err := message.ParseOffsetMsgID(msgID)
	if err != nil {
		return DirectResult{}, fmt.Errorf("admin: message id %q: %w", msgID, err)
	}
	h := &remoting.ConsumeMessageDirectlyRequestHeader{ConsumerGroup: group, ClientID: clientID, MsgID: msgID, Topic: topic}
	resp, err := c.call(ctx, host.String(), remoting.NewRequest(remoting.ConsumeMessageDirectly, h, nil))
	if err != nil {
		return DirectResult{}, fmt.Errorf("admin: consume %s directly by %s of %s: %w", msgID, clientID, group, err)
	}
	var out DirectResult
	if err := decodeJSON("consume directly", resp.Body, &out); err != nil {
		return DirectResult{}, err
	}
	return out, nil
}
