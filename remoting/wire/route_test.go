package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const standardRoute = `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

// bareRoute is what an Apache name server sends a requester older than
// 4.9.4: fastjson's bare integer keys, the 4.x topicSynFlag spelling.
const bareRoute = `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}]}`

func TestParseTopicRouteBothForms(t *testing.T) {
	want := &TopicRoute{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{0: "127.0.0.1:10911", 1: "127.0.0.1:10921"}}},
	}
	for name, body := range map[string]string{"standard": standardRoute, "bare keys": bareRoute} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTopicRoute([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
			bd := got.Broker("broker-a")
			if bd == nil || bd.MasterAddr() != "127.0.0.1:10911" || bd.SelectAddr() != "127.0.0.1:10911" {
				t.Fatalf("broker lookup %+v", bd)
			}
			if !got.QueueDatas[0].Readable() || !got.QueueDatas[0].Writable() {
				t.Fatal("perm 6 must be readable and writable")
			}
		})
	}
}

func TestParseTopicRouteExtras(t *testing.T) {
	body := `{"orderTopicConf":"broker-a:8","brokerDatas":[{"brokerAddrs":{ 2 :"10.0.0.3:1", -1:"x"},"brokerName":"b{0:,1:}","cluster":"c","zoneName":"z","enableActingMaster":true}],"queueDatas":[{"brokerName":"b","perm":4,"readQueueNums":1,"writeQueueNums":0,"topicSysFlag":3}]}`
	r, err := ParseTopicRoute([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	bd := r.BrokerDatas[0]
	// Text inside strings that looks like bare keys must not be touched.
	if bd.BrokerName != "b{0:,1:}" || bd.ZoneName != "z" || !bd.EnableActingMaster || r.OrderTopicConf != "broker-a:8" {
		t.Fatalf("broker %+v, conf %q", bd, r.OrderTopicConf)
	}
	if bd.MasterAddr() != "" || bd.SelectAddr() != "x" {
		t.Fatalf("master %q select %q", bd.MasterAddr(), bd.SelectAddr())
	}
	if r.QueueDatas[0].TopicSysFlag != 3 || r.QueueDatas[0].Writable() {
		t.Fatalf("queue %+v", r.QueueDatas[0])
	}
}

func TestParseTopicRouteMalformed(t *testing.T) {
	many := `{"queueDatas":[` + strings.Repeat(`{"brokerName":"b","readQueueNums":65536,"writeQueueNums":65536,"perm":6},`, 16) +
		`{"brokerName":"b","readQueueNums":1,"writeQueueNums":1,"perm":6}]}`
	for _, body := range []string{"", "{", `{"queueDatas":{}}`, `{"brokerDatas":[{"brokerAddrs":{"x":"a"}}]}`, "null x",
		`{"queueDatas":[{"brokerName":"b","readQueueNums":2147483647,"writeQueueNums":4,"perm":6}]}`,
		`{"queueDatas":[{"brokerName":"b","readQueueNums":4,"writeQueueNums":65537,"perm":6}]}`,
		`{"queueDatas":[{"brokerName":"b","readQueueNums":-1,"writeQueueNums":4,"perm":6}]}`,
		many} {
		if _, err := ParseTopicRoute([]byte(body)); !errors.Is(err, ErrMalformedBody) {
			t.Fatalf("%q: got %v, want ErrMalformedBody", body, err)
		}
	}
}

func TestQuoteBareKeys(t *testing.T) {
	cases := map[string]string{
		`{0:"a",1:"b"}`:             `{"0":"a","1":"b"}`,
		`{ 12 : "a" ,-3:"b"}`:       `{ "12" : "a" ,"-3":"b"}`,
		`[1,2,{3:4}]`:               `[1,2,{"3":4}]`,
		`{"k":"{0:\"x\",1:"}`:       `{"k":"{0:\"x\",1:"}`,
		`{"0":"already"}`:           `{"0":"already"}`,
		`{"a\\":{5:"v"}}`:           `{"a\\":{"5":"v"}}`,
		`{"brokerAddrs":{0:"h:1"}}`: `{"brokerAddrs":{"0":"h:1"}}`,
		`{1`:                        `{1`,
	}
	for in, want := range cases {
		if got := string(QuoteBareKeys([]byte(in))); got != want {
			t.Errorf("QuoteBareKeys(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseClusterInfo(t *testing.T) {
	body := `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`
	ci, err := ParseClusterInfo([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b := ci.BrokerAddrTable["broker-a"]
	if b.MasterAddr() != "10.0.0.1:10911" || !reflect.DeepEqual(ci.ClusterAddrTable["DefaultCluster"], []string{"broker-a"}) {
		t.Fatalf("%+v", ci)
	}
}

func FuzzParseTopicRoute(f *testing.F) {
	f.Add([]byte(standardRoute))
	f.Add([]byte(bareRoute))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseTopicRoute(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedBody) {
				t.Fatalf("error %v does not wrap ErrMalformedBody", err)
			}
			return
		}
		for _, b := range r.BrokerDatas {
			if b.BrokerAddrs == nil {
				t.Fatal("nil BrokerAddrs")
			}
		}
		total := 0
		for _, q := range r.QueueDatas {
			if q.ReadQueueNums < 0 || q.WriteQueueNums < 0 || q.ReadQueueNums > MaxQueueNums || q.WriteQueueNums > MaxQueueNums {
				t.Fatalf("queue counts %d/%d accepted", q.ReadQueueNums, q.WriteQueueNums)
			}
			total += int(max(q.ReadQueueNums, q.WriteQueueNums))
		}
		if total > MaxRouteQueues {
			t.Fatalf("%d queues accepted", total)
		}
	})
}
