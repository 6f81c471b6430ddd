package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/trace"
)

type action = func(ctx context.Context, adm *admin.Client) (any, [][]string, error)

func adminCommands() map[string]adminCommand {
	return map[string]adminCommand{
		"clusterList": {"list clusters and their brokers with running figures", func(fs *flag.FlagSet) action {
			c := fs.String("c", "", "cluster name (default: all)")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				ci, err := adm.Cluster(ctx)
				if err != nil {
					return nil, nil, err
				}
				type row struct {
					admin.Broker
					Runtime map[string]string `json:"runtime,omitempty"`
				}
				var out []row
				rows := [][]string{{"#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#InTPS", "#OutTPS", "#Timer(Progress)", "#PCWait(ms)", "#Hour", "#SPACE"}}
				for _, b := range ci.Brokers {
					if *c != "" && b.Cluster != *c {
						continue
					}
					rt, _ := adm.BrokerRuntime(ctx, b.Addr) // a broker that does not answer still lists
					out = append(out, row{b, rt})
					rows = append(rows, []string{b.Cluster, b.Name, itoa(b.ID), b.Addr, rt["brokerVersionDesc"],
						first(rt["putTps"]), first(rt["getTransferredTps"]), "-", rt["pageCacheLockTimeMills"], "-", rt["commitLogDiskRatio"]})
				}
				if *c != "" && len(out) == 0 {
					return nil, nil, fmt.Errorf("%w: %s", admin.ErrClusterNotFound, *c)
				}
				return out, rows, nil
			}
		}},
		"brokerStatus": {"print a broker's runtime figures (-b addr or name, or -c cluster)", func(fs *flag.FlagSet) action {
			b := fs.String("b", "", "broker address or name")
			c := fs.String("c", "", "cluster name")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				addrs, err := targetBrokers(ctx, adm, *b, *c)
				if err != nil {
					return nil, nil, err
				}
				out := map[string]map[string]string{}
				rows := [][]string{{"#Broker", "#Key", "#Value"}}
				for _, a := range addrs {
					rt, err := adm.BrokerRuntime(ctx, a)
					if err != nil {
						return nil, nil, err
					}
					out[a] = rt
					for _, r := range kvRows(rt)[1:] {
						rows = append(rows, append([]string{a}, r...))
					}
				}
				return out, rows, nil
			}
		}},
		"topicList": {"list every topic", func(fs *flag.FlagSet) action {
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				topics, err := adm.Topics(ctx)
				rows := [][]string{{"#Topic"}}
				for _, t := range topics {
					rows = append(rows, []string{t})
				}
				return topics, rows, err
			}
		}},
		"topicRoute": {"print a topic's route", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t); err != nil {
					return nil, nil, err
				}
				r, err := adm.Route(ctx, *t)
				if err != nil {
					return nil, nil, err
				}
				rows := [][]string{{"#Cluster", "#Broker Name", "#BID", "#Addr", "#Read Queues", "#Write Queues", "#Perm"}}
				for _, bd := range r.BrokerDatas {
					var qd wire.QueueData
					for _, q := range r.QueueDatas {
						if q.BrokerName == bd.BrokerName {
							qd = q
						}
					}
					for id, addr := range bd.BrokerAddrs {
						rows = append(rows, []string{bd.Cluster, bd.BrokerName, itoa(id), addr, itoa(qd.ReadQueueNums), itoa(qd.WriteQueueNums), permString(qd.Perm)})
					}
				}
				return r, rows, nil
			}
		}},
		"topicStatus": {"print a topic's queues with min/max offsets and last update", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t); err != nil {
					return nil, nil, err
				}
				st, err := adm.TopicStatus(ctx, *t)
				rows := [][]string{{"#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated"}}
				for _, q := range st {
					rows = append(rows, []string{q.Broker, itoa(q.QueueID), itoa(q.MinOffset), itoa(q.MaxOffset), ms(q.LastUpdate)})
				}
				return st, rows, err
			}
		}},
		"updateTopic": {"create or update a topic on a broker (-b) or cluster (-c)", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			b := fs.String("b", "", "broker address")
			c := fs.String("c", "", "cluster name")
			r := fs.Int("r", 8, "read queues")
			w := fs.Int("w", 8, "write queues")
			p := fs.Int("p", 6, "permission: 2 write, 4 read, 6 both")
			// mqadmin spells this -o, which here selects the output format.
			order := fs.Bool("order", false, "ordered topic")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t); err != nil {
					return nil, nil, err
				}
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				spec := admin.TopicSpec{Topic: *t, ReadQueues: int32(*r), WriteQueues: int32(*w), Perm: int32(*p), Order: *order}
				err := adm.CreateTopic(ctx, spec, *c, *b)
				return spec, [][]string{{"create topic to " + orStr(*b, "cluster "+*c) + " success."}, {fmt.Sprintf("%+v", spec)}}, err
			}
		}},
		"deleteTopic": {"delete a topic from a cluster's brokers and the name servers", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			c := fs.String("c", "", "cluster name")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t, "c", *c); err != nil {
					return nil, nil, err
				}
				err := adm.DeleteTopic(ctx, *t, *c)
				return map[string]string{"deleted": *t}, [][]string{{"delete topic [" + *t + "] from cluster [" + *c + "] success."}}, err
			}
		}},
		"updateSubGroup": {"create or update a subscription group on a broker (-b) or cluster (-c)", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "group")
			b := fs.String("b", "", "broker address")
			c := fs.String("c", "", "cluster name")
			r := fs.Int("r", 16, "retry max times")
			q := fs.Int("q", 1, "retry queues")
			d := fs.Bool("d", true, "broadcast consumption enabled")
			s := fs.Bool("s", true, "consume enabled")
			m := fs.Bool("m", true, "consume from min enabled")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g); err != nil {
					return nil, nil, err
				}
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				cfg := admin.NewGroupConfig(*g)
				cfg.RetryMaxTimes, cfg.RetryQueueNums, cfg.ConsumeBroadcastEnable, cfg.ConsumeEnable, cfg.ConsumeFromMinEnable = *r, *q, *d, *s, *m
				err := adm.CreateGroup(ctx, cfg, *c, *b)
				return cfg, [][]string{{"create subscription group to " + orStr(*b, "cluster "+*c) + " success."}, {fmt.Sprintf("%+v", cfg)}}, err
			}
		}},
		"deleteSubGroup": {"delete a subscription group from a broker (-b) or cluster (-c)", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "group")
			b := fs.String("b", "", "broker address")
			c := fs.String("c", "", "cluster name")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g); err != nil {
					return nil, nil, err
				}
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				err := adm.DeleteGroup(ctx, *g, *c, *b)
				return map[string]string{"deleted": *g}, [][]string{{"delete subscription group [" + *g + "] success."}}, err
			}
		}},
		"consumerProgress": {"print a group's offsets and lag per queue", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "consumer group")
			t := fs.String("t", "", "topic (default: all the group's topics)")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g); err != nil {
					return nil, nil, err
				}
				p, err := adm.ConsumerProgress(ctx, *g, *t)
				if err != nil {
					return nil, nil, err
				}
				rows := [][]string{{"#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime"}}
				for _, q := range p.Queues {
					rows = append(rows, []string{q.Topic, q.Broker, itoa(q.QueueID), itoa(q.BrokerOffset), itoa(q.ConsumerOffset), itoa(q.Lag), ms(q.LastTimestamp)})
				}
				rows = append(rows, []string{""}, []string{"Consume TPS: " + strconv.FormatFloat(p.ConsumeTPS, 'f', 2, 64)}, []string{"Diff Total: " + itoa(p.TotalLag)})
				return p, rows, nil
			}
		}},
		"consumerConnection": {"list a consumer group's members and subscriptions", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "consumer group")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g); err != nil {
					return nil, nil, err
				}
				cc, err := adm.ConsumerConnections(ctx, *g)
				if err != nil {
					return nil, nil, err
				}
				rows := [][]string{{"#ClientId", "#ClientAddr", "#Language", "#Version"}}
				for _, c := range cc.Connections {
					rows = append(rows, []string{c.ClientID, c.ClientAddr, c.Language, itoa(c.Version)})
				}
				rows = append(rows, []string{""}, []string{"#Topic", "#SubExpression"})
				for _, t := range sortedKeys(cc.Subscriptions) {
					rows = append(rows, []string{t, cc.Subscriptions[t].SubString})
				}
				rows = append(rows, []string{""}, []string{"ConsumeType: " + cc.ConsumeType}, []string{"MessageModel: " + cc.MessageModel}, []string{"ConsumeFromWhere: " + cc.ConsumeFromWhere})
				return cc, rows, nil
			}
		}},
		"producerConnection": {"list a producer group's members", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "producer group")
			t := fs.String("t", "", "topic (its brokers are asked)")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g, "t", *t); err != nil {
					return nil, nil, err
				}
				conns, err := adm.ProducerConnections(ctx, *g, *t)
				rows := [][]string{{"#ClientId", "#ClientAddr", "#Language", "#Version"}}
				for _, c := range conns {
					rows = append(rows, []string{c.ClientID, c.ClientAddr, c.Language, itoa(c.Version)})
				}
				return conns, rows, err
			}
		}},
		"consumerStatus": {"ask each member of a group (or -i one client) for its running info", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "consumer group")
			i := fs.String("i", "", "client id (default: every member)")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g); err != nil {
					return nil, nil, err
				}
				ids := []string{*i}
				if *i == "" {
					cc, err := adm.ConsumerConnections(ctx, *g)
					if err != nil {
						return nil, nil, err
					}
					ids = ids[:0]
					for _, c := range cc.Connections {
						ids = append(ids, c.ClientID)
					}
				}
				out := map[string]json.RawMessage{}
				rows := [][]string{{"#ClientId", "#RunningInfo"}}
				for _, id := range ids {
					info, err := adm.ConsumerRunningInfo(ctx, *g, id)
					if err != nil {
						return nil, nil, err
					}
					out[id] = info
					rows = append(rows, []string{id, string(info)})
				}
				return out, rows, nil
			}
		}},
		"queryMsgById": {"print the message with an offset message id", func(fs *flag.FlagSet) action {
			i := fs.String("i", "", "offset message id(s), comma separated")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("i", *i); err != nil {
					return nil, nil, err
				}
				var msgs []*message.MessageExt
				for _, id := range strings.Split(*i, ",") {
					m, err := adm.MessageByID(ctx, strings.TrimSpace(id))
					if err != nil {
						return nil, nil, err
					}
					msgs = append(msgs, m)
				}
				v, rows := msgRows(msgs)
				return v, rows, nil
			}
		}},
		"queryMsgByKey": {"find a topic's messages by key", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			k := fs.String("k", "", "key")
			b := fs.String("b", "", "begin timestamp (ms, now, yyyy-MM-dd#HH:mm:ss:SSS)")
			e := fs.String("e", "", "end timestamp")
			c := fs.Int("c", 64, "maximum number of messages")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t, "k", *k); err != nil {
					return nil, nil, err
				}
				q := admin.KeyQuery{Max: *c}
				var err error
				if *b != "" {
					if q.Begin, err = parseTime(*b); err != nil {
						return nil, nil, err
					}
				}
				if *e != "" {
					if q.End, err = parseTime(*e); err != nil {
						return nil, nil, err
					}
				}
				msgs, err := adm.MessagesByKey(ctx, *t, *k, q)
				if err != nil {
					return nil, nil, err
				}
				v, rows := msgRows(msgs)
				return v, rows, nil
			}
		}},
		"queryMsgByUniqueKey": {"find a message by its client-assigned id (UNIQ_KEY)", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			i := fs.String("i", "", "unique key (the producer's message id)")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t, "i", *i); err != nil {
					return nil, nil, err
				}
				msgs, err := adm.MessagesByUniqueKey(ctx, *t, *i)
				if err != nil {
					return nil, nil, err
				}
				v, rows := msgRows(msgs)
				return v, rows, nil
			}
		}},
		"queryMsgTraceById": {"print a message's trace: its send, deliveries and transaction end", func(fs *flag.FlagSet) action {
			i := fs.String("i", "", "message id (the producer's, UNIQ_KEY)")
			t := fs.String("t", trace.DefaultTopic, "trace topic")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("i", *i); err != nil {
					return nil, nil, err
				}
				recs, err := adm.MessageTrace(ctx, *i, *t)
				if len(recs) == 0 {
					return nil, nil, err
				}
				// Records found beside a malformed trace message are still
				// worth printing; the damage is the trace topic's, not theirs.
				return recs, traceRows(recs), nil
			}
		}},
		"queryMsgByOffset": {"print the message at a queue offset", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			b := fs.String("b", "", "broker name")
			i := fs.Int("i", -1, "queue id")
			o := fs.Int64("offset", -1, "queue offset")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t, "b", *b); err != nil {
					return nil, nil, err
				}
				if *i < 0 || *o < 0 {
					return nil, nil, fmt.Errorf("%w: -i and -offset are required", errUsage)
				}
				m, err := adm.MessageAtOffset(ctx, *t, *b, int32(*i), *o)
				if err != nil {
					return nil, nil, err
				}
				v, rows := msgRows([]*message.MessageExt{m})
				return v, rows, nil
			}
		}},
		"printMsg":       {"print a topic's messages (all queues, from each queue's minimum, at most -c)", printMessages},
		"consumeMessage": {"read messages of a topic, optionally one queue (-b -i) from -offset", printMessages},
		"resetOffsetByTime": {"move a group's offsets on a topic to a time; live consumers re-deliver from there", func(fs *flag.FlagSet) action {
			g := fs.String("g", "", "consumer group")
			t := fs.String("t", "", "topic")
			s := fs.String("s", "", "timestamp: ms, now, yyyy-MM-dd#HH:mm:ss:SSS or RFC 3339")
			f := fs.Bool("f", true, "force: also move offsets forward")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("g", *g, "t", *t, "s", *s); err != nil {
					return nil, nil, err
				}
				at, err := parseTime(*s)
				if err != nil {
					return nil, nil, err
				}
				res, err := adm.ResetOffsetByTime(ctx, *g, *t, at, *f)
				rows := [][]string{{"#brokerName", "#queueId", "#offset"}}
				for _, q := range res {
					rows = append(rows, []string{q.Broker, itoa(q.QueueID), itoa(q.Offset)})
				}
				return res, rows, err
			}
		}},
		"sendMessage": {"send one message", func(fs *flag.FlagSet) action {
			t := fs.String("t", "", "topic")
			p := fs.String("p", "", "body")
			k := fs.String("k", "", "keys")
			c := fs.String("c", "", "tags")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("t", *t, "p", *p); err != nil {
					return nil, nil, err
				}
				pr, err := producer.New(producer.WithClient(adm.Client()), producer.WithGroup("TOOLS_PRODUCER_GROUP"))
				if err != nil {
					return nil, nil, err
				}
				defer pr.Shutdown(context.WithoutCancel(ctx))
				m := message.New(*t, []byte(*p))
				if *k != "" {
					m.WithKeys(strings.Fields(*k)...)
				}
				if *c != "" {
					m.WithTags(*c)
				}
				r, err := pr.SendSync(ctx, m)
				if err != nil {
					return nil, nil, err
				}
				v := map[string]any{"brokerName": r.Queue.BrokerName, "queueId": r.Queue.QueueID, "sendStatus": r.Status.String(), "msgId": r.MsgID, "offsetMsgId": r.OffsetMsgID, "queueOffset": r.QueueOffset}
				return v, [][]string{{"#Broker Name", "#QID", "#Send Result", "#MsgId", "#OffsetMsgId"}, {r.Queue.BrokerName, itoa(r.Queue.QueueID), r.Status.String(), r.MsgID, r.OffsetMsgID}}, nil
			}
		}},
		"getBrokerConfig": {"print a broker's (-b) or a cluster's (-c) configuration", func(fs *flag.FlagSet) action {
			b := fs.String("b", "", "broker address or name")
			c := fs.String("c", "", "cluster name")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				addrs, err := targetBrokers(ctx, adm, *b, *c)
				if err != nil {
					return nil, nil, err
				}
				out := map[string]map[string]string{}
				rows := [][]string{{"#Broker", "#Key", "#Value"}}
				for _, a := range addrs {
					cfg, err := adm.BrokerConfig(ctx, a)
					if err != nil {
						return nil, nil, err
					}
					out[a] = cfg
					for _, r := range kvRows(cfg)[1:] {
						rows = append(rows, append([]string{a}, r...))
					}
				}
				return out, rows, nil
			}
		}},
		"updateBrokerConfig": {"change a key of a broker's (-b) or cluster's (-c) configuration", func(fs *flag.FlagSet) action {
			b := fs.String("b", "", "broker address or name")
			c := fs.String("c", "", "cluster name")
			k := fs.String("k", "", "key")
			v := fs.String("v", "", "value")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("k", *k, "v", *v); err != nil {
					return nil, nil, err
				}
				if *b == "" && *c == "" {
					return nil, nil, fmt.Errorf("%w: -b or -c is required", errUsage)
				}
				addrs, err := targetBrokers(ctx, adm, *b, *c)
				if err != nil {
					return nil, nil, err
				}
				for _, a := range addrs {
					if err := adm.UpdateBrokerConfig(ctx, "", a, map[string]string{*k: *v}); err != nil {
						return nil, nil, err
					}
				}
				return map[string]any{"brokers": addrs, *k: *v}, [][]string{{fmt.Sprintf("update broker config %s=%s on %s success.", *k, *v, strings.Join(addrs, ", "))}}, nil
			}
		}},
		"getNamesrvConfig": {"print every name server's configuration", func(fs *flag.FlagSet) action {
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				cfg, err := adm.NameServerConfig(ctx)
				rows := [][]string{{"#NameServer", "#Key", "#Value"}}
				for _, a := range sortedKeys(cfg) {
					for _, r := range kvRows(cfg[a])[1:] {
						rows = append(rows, append([]string{a}, r...))
					}
				}
				return cfg, rows, err
			}
		}},
		"updateKvConfig": {"set a name-server KV entry", func(fs *flag.FlagSet) action {
			s := fs.String("s", "", "namespace")
			k := fs.String("k", "", "key")
			v := fs.String("v", "", "value")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("s", *s, "k", *k, "v", *v); err != nil {
					return nil, nil, err
				}
				err := adm.PutKV(ctx, *s, *k, *v)
				return map[string]string{"namespace": *s, "key": *k, "value": *v}, [][]string{{"update kv config in namespace success."}}, err
			}
		}},
		"deleteKvConfig": {"delete a name-server KV entry", func(fs *flag.FlagSet) action {
			s := fs.String("s", "", "namespace")
			k := fs.String("k", "", "key")
			return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
				if err := need("s", *s, "k", *k); err != nil {
					return nil, nil, err
				}
				err := adm.DeleteKV(ctx, *s, *k)
				return map[string]string{"namespace": *s, "key": *k}, [][]string{{"delete kv config from namespace success."}}, err
			}
		}},
		"wipeWritePerm": {"make a broker read-only on every name server", writePermCommand(false)},
		"addWritePerm":  {"give a broker back its write permission on every name server", writePermCommand(true)},
	}
}

func writePermCommand(add bool) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		b := fs.String("b", "", "broker name")
		return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
			if err := need("b", *b); err != nil {
				return nil, nil, err
			}
			f := adm.WipeWritePerm
			if add {
				f = adm.AddWritePerm
			}
			res, err := f(ctx, *b)
			rows := [][]string{{"#NameServer", "#Topics Changed"}}
			for _, a := range sortedKeys(res) {
				rows = append(rows, []string{a, itoa(res[a])})
			}
			return res, rows, err
		}
	}
}

// printMessages serves printMsg and consumeMessage: it reads each queue's
// messages from its minimum offset (or -offset) by queue position.
func printMessages(fs *flag.FlagSet) action {
	t := fs.String("t", "", "topic")
	b := fs.String("b", "", "broker name (default: all)")
	i := fs.Int("i", -1, "queue id (default: all)")
	o := fs.Int64("offset", -1, "first queue offset (default: the queue's minimum)")
	c := fs.Int("c", 32, "maximum number of messages")
	return func(ctx context.Context, adm *admin.Client) (any, [][]string, error) {
		if err := need("t", *t); err != nil {
			return nil, nil, err
		}
		st, err := adm.TopicStatus(ctx, *t)
		if err != nil {
			return nil, nil, err
		}
		var msgs []*message.MessageExt
		for _, q := range st {
			if (*b != "" && q.Broker != *b) || (*i >= 0 && q.QueueID != int32(*i)) {
				continue
			}
			from := q.MinOffset
			if *o >= 0 {
				from = max(*o, q.MinOffset)
			}
			for off := from; off < q.MaxOffset && len(msgs) < *c; off++ {
				m, err := adm.MessageAtOffset(ctx, *t, q.Broker, q.QueueID, off)
				if err != nil {
					return nil, nil, err
				}
				msgs = append(msgs, m)
			}
		}
		v, rows := msgRows(msgs)
		return v, rows, nil
	}
}

func first(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "-"
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func permString(p int32) string {
	s := ""
	if p&wire.PermRead != 0 {
		s += "R"
	}
	if p&wire.PermWrite != 0 {
		s += "W"
	}
	return orStr(s, "-")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
