package remoting

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

type headerCodec interface {
	Header
	HeaderDecoder
}

func without(e *ExtFields, key string) *ExtFields {
	var out ExtFields
	e.Range(func(k, v string) bool {
		if k != key {
			out.Set(k, v)
		}
		return true
	})
	return &out
}

// TestHeaderRoundTrip encodes every typed header with non-default values,
// decodes it into a fresh value and compares; then drops each key in turn and
// checks exactly the required ones are reported missing.
func TestHeaderRoundTrip(t *testing.T) {
	cases := []struct {
		h        headerCodec
		required []string
	}{
		{sendV2Header(), []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag"}},
		{&SendMessageRequestHeader{ProducerGroup: "PG", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 8, QueueID: -1, SysFlag: 4,
			BornTimestamp: 1, Flag: 9, Properties: "TAGS\x01a\x02", ReconsumeTimes: 2, UnitMode: true, MaxReconsumeTimes: 3, Batch: true, BrokerName: "b"},
			[]string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag"}},
		{(&SendMessageRequestHeader{ProducerGroup: "PG", Topic: "T", DefaultTopic: "D", DefaultTopicQueueNums: 4, QueueID: 2, BornTimestamp: 5, Batch: true, BrokerName: "bn"}).V2(),
			[]string{"a", "b", "c", "d", "e", "f", "g", "h"}},
		{&SendMessageResponseHeader{MsgID: "AB", QueueID: 3, QueueOffset: 1 << 40, TransactionID: "t", BatchUniqID: "u", RecallHandle: "r", MsgRegion: "DefaultRegion", TraceOn: "true"},
			[]string{"msgId", "queueId", "queueOffset"}},
		{&RecallMessageRequestHeader{ProducerGroup: "PG", Topic: "T", RecallHandle: "djEgVCBiIDEgaWQ=", BrokerName: "b"}, []string{"topic", "recallHandle"}},
		{&RecallMessageResponseHeader{MsgID: "7F0000010001"}, []string{"msgId"}},
		{&PullMessageRequestHeader{ConsumerGroup: "CG", Topic: "%RETRY%CG", QueueID: 1, QueueOffset: 99, MaxMsgNums: 32, SysFlag: 3, CommitOffset: 98,
			SuspendTimeoutMillis: 20000, Subscription: "a || b", SubVersion: 17, ExpressionType: "TAG", MaxMsgBytes: 1 << 20, BrokerName: "b"},
			[]string{"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis"}},
		{&PullMessageResponseHeader{SuggestWhichBrokerID: 1, NextBeginOffset: 2, MinOffset: 3, MaxOffset: 4, OffsetDelta: 5, TopicSysFlag: 6, GroupSysFlag: 7, ForbiddenType: 8},
			[]string{"suggestWhichBrokerId", "nextBeginOffset", "minOffset", "maxOffset"}},
		{&QueryConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "T", QueueID: 2, SetZeroIfNotFound: true, BrokerName: "b"}, []string{"consumerGroup", "topic", "queueId"}},
		{&OffsetResponseHeader{Offset: -1}, []string{"offset"}},
		{&UpdateConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "T", QueueID: 2, CommitOffset: 77, BrokerName: "b"}, []string{"consumerGroup", "topic", "queueId", "commitOffset"}},
		{&SearchOffsetRequestHeader{Topic: "T", QueueID: 1, Timestamp: 1700000000000, BoundaryType: "upper", BrokerName: "b"}, []string{"topic", "queueId", "timestamp"}},
		{&GetMaxOffsetRequestHeader{Topic: "T", QueueID: 1, Committed: true, BrokerName: "b"}, []string{"topic", "queueId"}},
		{&QueueRequestHeader{Topic: "T", QueueID: 7, BrokerName: "b"}, []string{"topic", "queueId"}},
		{&GetEarliestMsgStoretimeResponseHeader{Timestamp: 12345}, []string{"timestamp"}},
		{&QueryMessageRequestHeader{Topic: "T", Key: "k", MaxNum: 32, BeginTimestamp: 1, EndTimestamp: 2, UniqueKeyQuery: true}, []string{"topic", "key", "maxNum", "beginTimestamp", "endTimestamp"}},
		{&QueryMessageResponseHeader{IndexLastUpdateTimestamp: 1, IndexLastUpdatePhyoffset: 2}, []string{"indexLastUpdateTimestamp", "indexLastUpdatePhyoffset"}},
		{&ViewMessageByIDRequestHeader{Offset: 4096, Topic: "T"}, []string{"offset"}},
		{&ConsumerSendMsgBackRequestHeader{Offset: 1, Group: "CG", DelayLevel: -1, OriginMsgID: "m", OriginTopic: "T", UnitMode: true, MaxReconsumeTimes: 16, HasMaxReconsumeTimes: true, BrokerName: "b"},
			[]string{"offset", "group", "delayLevel"}},
		{&ConsumerGroupHeader{ConsumerGroup: "CG"}, []string{"consumerGroup"}},
		{&UnregisterClientRequestHeader{ClientID: "1.2.3.4@1", ProducerGroup: "PG", ConsumerGroup: "CG"}, []string{"clientID"}},
		{&TopicHeader{Topic: "T"}, []string{"topic"}},
		{&ProducerGroupHeader{ProducerGroup: "PG"}, []string{"producerGroup"}},
		{&GetConsumeStatsRequestHeader{ConsumerGroup: "CG", Topic: "T", TopicList: "A;B"}, []string{"consumerGroup"}},
		{&GetConsumeStatsInBrokerHeader{IsOrder: true}, []string{"isOrder"}},
		{&CloneGroupOffsetRequestHeader{SrcGroup: "S", DestGroup: "D", Topic: "T", Offline: true}, []string{"srcGroup", "destGroup"}},
		{&QueryConsumeQueueRequestHeader{Topic: "T", QueueID: 3, Index: 1 << 33, Count: 10, ConsumerGroup: "CG"}, []string{"topic"}},
		{&GetBrokerConfigResponseHeader{Version: `{"counter":1}`}, []string{"version"}},
		{&ResetOffsetRequestHeader{Topic: "T", Group: "G", Timestamp: 5, IsForce: true, OneQueue: true, QueueID: 1, Offset: 2}, []string{"topic", "group", "timestamp", "isForce"}},
		{&GetConsumerStatusRequestHeader{Topic: "T", Group: "G", ClientAddr: "c"}, []string{"topic", "group"}},
		{&GetConsumerRunningInfoRequestHeader{ConsumerGroup: "CG", ClientID: "id", JstackEnable: true}, []string{"consumerGroup", "clientId"}},
		{&ConsumeMessageDirectlyRequestHeader{ConsumerGroup: "CG", ClientID: "c", MsgID: "m", BrokerName: "b", Topic: "T", TopicSysFlag: 1, GroupSysFlag: 2}, []string{"consumerGroup"}},
		{&EndTransactionRequestHeader{ProducerGroup: "PG", TranStateTableOffset: 1, CommitLogOffset: 2, CommitOrRollback: TransactionCommit, FromTransactionCheck: true, MsgID: "u", TransactionID: "t", Topic: "T", BrokerName: "b"},
			[]string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "fromTransactionCheck", "msgId"}},
		{&CheckTransactionStateRequestHeader{Topic: "T", TranStateTableOffset: 1, CommitLogOffset: 2, MsgID: "u", TransactionID: "t", OffsetMsgID: "o", BrokerName: "b"},
			[]string{"tranStateTableOffset", "commitLogOffset"}},
		{&CreateTopicRequestHeader{Topic: "T", DefaultTopic: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6, TopicFilterType: "SINGLE_TAG", TopicSysFlag: 1, Order: true, Attributes: "+a=b", Force: true},
			[]string{"topic", "defaultTopic", "readQueueNums", "writeQueueNums", "perm", "topicFilterType", "order"}},
		{&DeleteTopicRequestHeader{Topic: "T"}, []string{"topic"}},
		{&DeleteTopicInNamesrvRequestHeader{Topic: "T", ClusterName: "C"}, []string{"topic"}},
		{&GetTopicsByClusterRequestHeader{Cluster: "C"}, []string{"cluster"}},
		{&GetRouteInfoRequestHeader{Topic: "T", AcceptStandardJSONOnly: true}, []string{"topic"}},
		{&RegisterBrokerRequestHeader{BrokerName: "b", BrokerAddr: "1:2", ClusterName: "C", HaServerAddr: "1:3", BrokerID: 1, HeartbeatTimeoutMillis: 5000, EnableActingMaster: true, Compressed: true, BodyCrc32: 99, ZoneName: "z"},
			[]string{"brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId"}},
		{&RegisterBrokerResponseHeader{HaServerAddr: "h", MasterAddr: "m"}, nil},
		{&BrokerIdentityHeader{BrokerName: "b", BrokerAddr: "a", ClusterName: "c", BrokerID: 2}, []string{"brokerName", "brokerAddr", "clusterName", "brokerId"}},
		{&QueryDataVersionResponseHeader{Changed: true}, []string{"changed"}},
		{&BrokerHeartbeatRequestHeader{ClusterName: "c", BrokerAddr: "a", BrokerName: "b", BrokerID: 1, Epoch: 2, MaxOffset: 3, ConfirmOffset: 4, HeartbeatTimeoutMills: 5, ElectionPriority: 6},
			[]string{"clusterName", "brokerAddr", "brokerName"}},
		{&PutKVConfigRequestHeader{Namespace: "ORDER_TOPIC_CONFIG", Key: "T", Value: "b:4"}, []string{"namespace", "key", "value"}},
		{&KVConfigKeyHeader{Namespace: "n", Key: "k"}, []string{"namespace", "key"}},
		{&GetKVConfigResponseHeader{Value: "v"}, []string{"value"}},
	}
	for _, tc := range cases {
		typ := reflect.TypeOf(tc.h).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			var e ExtFields
			tc.h.EncodeExt(&e)
			// Through the wire in both encodings, so the ext survives framing too.
			for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
				c := NewRequest(1, tc.h, nil)
				c.SerializeType = st
				f, err := AppendFrame(nil, c)
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodeFrame(f[4:])
				if err != nil {
					t.Fatal(err)
				}
				got := reflect.New(typ).Interface().(headerCodec)
				if err := back.DecodeHeader(got); err != nil {
					t.Fatalf("%v decode: %v (ext %v)", st, err, &back.Ext)
				}
				if !reflect.DeepEqual(got, tc.h) {
					t.Fatalf("%v round trip\n got %+v\nwant %+v", st, got, tc.h)
				}
			}
			var missing []string
			e.Range(func(k, _ string) bool {
				got := reflect.New(typ).Interface().(headerCodec)
				err := got.DecodeExt(without(&e, k))
				var fe *FieldError
				switch {
				case err == nil:
				case errors.Is(err, ErrMissingField) && errors.As(err, &fe):
					missing = append(missing, k)
				default:
					t.Errorf("dropping %q: unexpected error %v", k, err)
				}
				return true
			})
			if !slices.Equal(missing, tc.required) && !(len(missing) == 0 && len(tc.required) == 0) {
				t.Fatalf("required fields\n got %v\nwant %v", missing, tc.required)
			}
		})
	}
}

func TestSendHeaderSpellings(t *testing.T) {
	h := sendV2Header()
	var v1, v2 ExtFields
	h.EncodeExt(&v1)
	h.V2().EncodeExt(&v2)
	if _, ok := v1.Get("producerGroup"); !ok || v1.Len() != 13 {
		t.Fatalf("V1 keys: %v", &v1)
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"} {
		if _, ok := v2.Get(k); !ok {
			t.Fatalf("V2 lacks %q: %v", k, &v2)
		}
	}
	var fromV1, fromV2 SendMessageRequestHeader
	if err := fromV1.DecodeExt(&v1); err != nil {
		t.Fatal(err)
	}
	if err := fromV2.DecodeExt(&v2); err != nil {
		t.Fatal(err)
	}
	if fromV1 != *h || fromV2 != *h {
		t.Fatalf("decode mismatch\nv1 %+v\nv2 %+v\nwant %+v", fromV1, fromV2, *h)
	}
	// Missing required fields are reported by their V1 name.
	err := fromV2.DecodeExt(without(&v2, "g"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "bornTimestamp" || !errors.Is(err, ErrMissingField) {
		t.Fatalf("missing g: %v", err)
	}
	v2.Set("e", "x1")
	if err := fromV2.DecodeExt(&v2); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("bad queueId: %v", err)
	}
}

func TestHeaderDefaults(t *testing.T) {
	var q QueryConsumerOffsetRequestHeader
	e := ExtFields{}
	e.Set("consumerGroup", "g")
	e.Set("topic", "t")
	e.Set("queueId", "0")
	if err := q.DecodeExt(&e); err != nil || !q.SetZeroIfNotFound {
		t.Fatalf("setZeroIfNotFound default: %+v %v", q, err)
	}
	var m GetMaxOffsetRequestHeader
	if err := m.DecodeExt(&e); err != nil || !m.Committed {
		t.Fatalf("committed default: %+v %v", m, err)
	}
	var r ResetOffsetRequestHeader
	e.Set("group", "g")
	e.Set("timestamp", "1")
	e.Set("isForce", "false")
	if err := r.DecodeExt(without(&e, "queueId")); err != nil || r.QueueID != -1 || r.Offset != -1 || r.OneQueue {
		t.Fatalf("reset defaults: %+v %v", r, err)
	}
	var whole ExtFields
	(&ResetOffsetRequestHeader{Topic: "t", Group: "g"}).EncodeExt(&whole)
	if _, ok := whole.Get("queueId"); ok {
		t.Fatalf("zero-value reset header names a queue: %v", &whole)
	}
	var sb ConsumerSendMsgBackRequestHeader
	e.Set("offset", "1")
	e.Set("delayLevel", "0")
	if err := sb.DecodeExt(&e); err != nil || sb.HasMaxReconsumeTimes {
		t.Fatalf("send back defaults: %+v %v", sb, err)
	}
}

func sendHeaderSample() *SendMessageRequestHeader {
	return &SendMessageRequestHeader{ProducerGroup: "PG", Topic: "T", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: 3, SysFlag: 0, BornTimestamp: 1733450000123, Flag: 7,
		Properties: "UNIQ_KEY\x01AB\x02WAIT\x01true\x02", ReconsumeTimes: 2, UnitMode: true,
		MaxReconsumeTimes: 16, Batch: false, BrokerName: "b-1"}
}

// The V2 send header's fast path (into an empty command) writes the same
// pairs, in the same order, as the general path (into one that already has
// pairs), and both serialisations carry them to the decoder unchanged.
func TestSendHeaderV2FastPath(t *testing.T) {
	h := sendHeaderSample()
	var fast ExtFields
	h.V2().EncodeExt(&fast)
	slow := ExtFields{kv: []string{"x", "1"}}
	h.V2().EncodeExt(&slow)
	if want := append([]string{"x", "1"}, fast.kv...); !slices.Equal(slow.kv, want) {
		t.Fatalf("fast path %v, general path %v", fast.kv, slow.kv)
	}
	if cap(fast.kv) != len(fast.kv) {
		t.Errorf("fast path slice cap %d for %d strings", cap(fast.kv), len(fast.kv))
	}
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c := NewRequest(SendMessageV2, h.V2(), []byte("body"))
		c.SerializeType = st
		b, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeFrame(b[4:])
		if err != nil {
			t.Fatal(err)
		}
		var got SendMessageRequestHeader
		if err := back.DecodeHeader(&got); err != nil || got != *h {
			t.Errorf("%v: decoded %+v (%v), want %+v", st, got, err, *h)
		}
	}
	noBroker := *h
	noBroker.BrokerName = ""
	var e ExtFields
	noBroker.V2().EncodeExt(&e)
	if _, ok := e.Get("n"); ok {
		t.Errorf("empty broker name written: %v", &e)
	}
}
