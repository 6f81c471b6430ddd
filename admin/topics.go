package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Topics lists every topic the name servers route (GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
// sorted.
func (c *Client) Topics(ctx context.Context) ([]string, error) {
	resp, err := c.callNameServer(ctx, remoting.NewRequest(remoting.GetAllTopicListFromNameServer, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("admin: topic list: %w", err)
	}
	var tl struct {
		TopicList []string `json:"topicList"`
	}
	if err := decodeJSON("topic list", resp.Body, &tl); err != nil {
		return nil, err
	}
	sort.Strings(tl.TopicList)
	return tl.TopicList, nil
}

// Route returns the topic's route (GET_ROUTEINFO_BY_TOPIC). An unknown
// topic is an error matching remoting.ErrTopicNotExist.
func (c *Client) Route(ctx context.Context, topic string) (*wire.TopicRoute, error) {
	resp, err := c.callNameServer(ctx, remoting.NewRequest(remoting.GetRouteInfoByTopic, &remoting.GetRouteInfoRequestHeader{Topic: topic}, nil))
	if err != nil {
		return nil, fmt.Errorf("admin: route of %s: %w", topic, err)
	}
	r, err := wire.ParseTopicRoute(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: route of %s: %v", ErrMalformed, topic, err)
	}
	return r, nil
}

// QueueStatus is one queue of a topic on one broker.
type QueueStatus struct {
	Broker     string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
	MinOffset  int64  `json:"minOffset"`
	MaxOffset  int64  `json:"maxOffset"`
	LastUpdate int64  `json:"lastUpdateTimestamp"` // store time (ms) of the newest message, 0 when empty
}

// TopicStatus asks every master routing topic for its queues' offsets
// (GET_TOPIC_STATS_INFO), sorted by broker and queue.
func (c *Client) TopicStatus(ctx context.Context, topic string) ([]QueueStatus, error) {
	route, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueStatus
	for _, bd := range route.BrokerDatas {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetTopicStatsInfo, &remoting.TopicHeader{Topic: topic}, nil))
		if err != nil {
			return nil, fmt.Errorf("admin: status of %s: %w", topic, err)
		}
		table, err := wire.DecodeQueueTable(resp.Body, "offsetTable")
		if err != nil {
			return nil, fmt.Errorf("%w: status of %s: %v", ErrMalformed, topic, err)
		}
		for mq, raw := range table {
			var v struct {
				MinOffset, MaxOffset, LastUpdateTimestamp int64
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("%w: status of %s: %v", ErrMalformed, topic, err)
			}
			out = append(out, QueueStatus{Broker: mq.BrokerName, QueueID: mq.QueueID, MinOffset: v.MinOffset, MaxOffset: v.MaxOffset, LastUpdate: v.LastUpdateTimestamp})
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

// TopicSpec describes a topic to create or update. Zero counts mean
// RocketMQ's default of 8 queues; zero Perm means read and write (6).
type TopicSpec struct {
	Topic       string
	ReadQueues  int32
	WriteQueues int32
	Perm        int32
	Order       bool
}

// CreateTopic creates or updates spec's topic (UPDATE_AND_CREATE_TOPIC)
// on brokerAddr, or on every master of cluster ("" for every master).
func (c *Client) CreateTopic(ctx context.Context, spec TopicSpec, cluster, brokerAddr string) error {
	if spec.Topic == "" {
		return errors.New("admin: create topic: no topic name")
	}
	if spec.ReadQueues <= 0 {
		spec.ReadQueues = 8
	}
	if spec.WriteQueues <= 0 {
		spec.WriteQueues = 8
	}
	if spec.Perm == 0 {
		spec.Perm = wire.PermRead | wire.PermWrite
	}
	addrs, err := c.masters(ctx, cluster, brokerAddr)
	if err != nil {
		return fmt.Errorf("admin: create topic %s: %w", spec.Topic, err)
	}
	for _, addr := range addrs {
		h := &remoting.CreateTopicRequestHeader{
			Topic: spec.Topic, DefaultTopic: "TBW102", ReadQueueNums: spec.ReadQueues, WriteQueueNums: spec.WriteQueues,
			Perm: spec.Perm, TopicFilterType: "SINGLE_TAG", Order: spec.Order,
		}
		if _, err := c.call(ctx, addr, remoting.NewRequest(remoting.UpdateAndCreateTopic, h, nil)); err != nil {
			return fmt.Errorf("admin: create topic %s: %w", spec.Topic, err)
		}
	}
	return nil
}

// DeleteTopic deletes topic from every master of cluster ("" for all) and
// then from every name server, as mqadmin deleteTopic does.
func (c *Client) DeleteTopic(ctx context.Context, topic, cluster string) error {
	addrs, err := c.masters(ctx, cluster, "")
	if err != nil {
		return fmt.Errorf("admin: delete topic %s: %w", topic, err)
	}
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.DeleteTopicInBroker, &remoting.DeleteTopicRequestHeader{Topic: topic}, nil)
		if _, err := c.call(ctx, addr, req); err != nil {
			return fmt.Errorf("admin: delete topic %s: %w", topic, err)
		}
	}
	err = c.eachNameServer(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.DeleteTopicInNamesrv, &remoting.DeleteTopicInNamesrvRequestHeader{Topic: topic}, nil)
	})
	if err != nil {
		return fmt.Errorf("admin: delete topic %s: %w", topic, err)
	}
	return nil
}
