package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

const xss = `<script>alert(1)</script>`

// fake is an in-memory cluster: one broker "b0", topics with queues of
// messages, groups with progress.
type fake struct {
	mu       sync.Mutex
	down     error // every call fails with it (name server down)
	topics   map[string][][]*message.MessageExt
	groups   map[string]admin.Progress
	created  []admin.TopicSpec
	deleted  []string
	resets   []string
	direct   []string       // group/client/id of CONSUME_MESSAGE_DIRECTLY calls
	unrouted map[string]int // Route answers TOPIC_NOT_EXIST this many more times
	stored   int64          // messages added: their commit-log offsets
}

var errDown = errors.New("dial tcp 127.0.0.1:9876: connect: connection refused")

func newFake() *fake {
	return &fake{topics: map[string][][]*message.MessageExt{}, groups: map[string]admin.Progress{}}
}

func (f *fake) addMessage(topic string, queue int, storeMs int64, body string, props ...string) *message.MessageExt {
	f.mu.Lock()
	defer f.mu.Unlock()
	qs := f.topics[topic]
	for len(qs) <= queue {
		qs = append(qs, nil)
	}
	m := &message.MessageExt{Topic: topic, Body: []byte(body), QueueID: int32(queue), QueueOffset: int64(len(qs[queue])),
		StoreTimestamp: storeMs, BornTimestamp: storeMs, BrokerName: "b0", StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		CommitLogOffset: 1000 + f.stored}
	f.stored++
	for i := 0; i+1 < len(props); i += 2 {
		m.SetProperty(props[i], props[i+1])
	}
	m.MsgID, _ = m.Property("UNIQ_KEY")
	if m.MsgID == "" {
		m.MsgID = m.OffsetMsgID()
	}
	qs[queue] = append(qs[queue], m)
	f.topics[topic] = qs
	return m
}

func (f *fake) Cluster(ctx context.Context) (admin.Cluster, error) {
	if f.down != nil {
		return admin.Cluster{}, f.down
	}
	return admin.Cluster{Brokers: []admin.Broker{{Cluster: "DefaultCluster", Name: "b0", ID: 0, Addr: "127.0.0.1:10911"}, {Cluster: "DefaultCluster", Name: "b0", ID: 1, Addr: "127.0.0.1:10921"}}}, nil
}

func (f *fake) BrokerRuntime(ctx context.Context, addr string) (map[string]string, error) {
	if addr == "127.0.0.1:10921" {
		return nil, errors.New("slave unreachable")
	}
	return map[string]string{"brokerVersionDesc": "V5_3_3", "putTps": "12.50 11.00 10.00", "getTransferredTps": "3.25 3 3", "commitLogDiskRatio": "0.42"}, nil
}

func (f *fake) Topics(ctx context.Context) ([]string, error) {
	if f.down != nil {
		return nil, f.down
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for t := range f.topics {
		out = append(out, t)
	}
	for g := range f.groups {
		out = append(out, "%RETRY%"+g)
	}
	return out, nil
}

func (f *fake) queues(topic string) ([][]*message.MessageExt, error) {
	if f.down != nil {
		return nil, f.down
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	qs, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("admin: route of %s: %w", topic, remoting.ErrTopicNotExist)
	}
	return qs, nil
}

func (f *fake) Route(ctx context.Context, topic string) (*wire.TopicRoute, error) {
	f.mu.Lock()
	if f.unrouted[topic] > 0 {
		f.unrouted[topic]--
		f.mu.Unlock()
		return nil, fmt.Errorf("admin: route of %s: %w", topic, remoting.ErrTopicNotExist)
	}
	f.mu.Unlock()
	qs, err := f.queues(topic)
	if err != nil {
		return nil, err
	}
	n := int32(len(qs))
	return &wire.TopicRoute{QueueDatas: []wire.QueueData{{BrokerName: "b0", ReadQueueNums: n, WriteQueueNums: n, Perm: 6}},
		BrokerDatas: []wire.BrokerData{{Cluster: "DefaultCluster", BrokerName: "b0", BrokerAddrs: map[int64]string{0: "127.0.0.1:10911"}}}}, nil
}

func (f *fake) TopicStatus(ctx context.Context, topic string) ([]admin.QueueStatus, error) {
	qs, err := f.queues(topic)
	if err != nil {
		return nil, err
	}
	var out []admin.QueueStatus
	for i, q := range qs {
		s := admin.QueueStatus{Broker: "b0", QueueID: int32(i), MaxOffset: int64(len(q))}
		if len(q) > 0 {
			s.LastUpdate = q[len(q)-1].StoreTimestamp
		}
		out = append(out, s)
	}
	return out, nil
}

func (f *fake) ConsumerProgress(ctx context.Context, group, topic string) (admin.Progress, error) {
	if f.down != nil {
		return admin.Progress{}, f.down
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.groups[group]
	if !ok {
		return p, fmt.Errorf("%w: %s", admin.ErrGroupNotFound, group)
	}
	return p, nil
}

func (f *fake) ConsumerConnections(ctx context.Context, group string) (admin.ConsumerConnections, error) {
	if group == "offline" {
		return admin.ConsumerConnections{}, errors.New("the consumer group not online")
	}
	return admin.ConsumerConnections{Connections: []admin.Connection{{ClientID: "10.0.0.1@" + xss, ClientAddr: "10.0.0.1:5000", Language: "GO", Version: 453}},
		Subscriptions: map[string]wire.SubscriptionData{"Orders": {}}, ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING"}, nil
}

func (f *fake) all() []*message.MessageExt {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*message.MessageExt
	for _, qs := range f.topics {
		for _, q := range qs {
			out = append(out, q...)
		}
	}
	return out
}

func (f *fake) MessageByID(ctx context.Context, id string) (*message.MessageExt, error) {
	for _, m := range f.all() {
		if m.OffsetMsgID() == id {
			return m, nil
		}
	}
	return nil, admin.ErrMessageNotFound
}

func (f *fake) MessagesByKey(ctx context.Context, topic, key string, q admin.KeyQuery) ([]*message.MessageExt, error) {
	if _, err := f.queues(topic); err != nil {
		return nil, err
	}
	var out []*message.MessageExt
	for _, m := range f.all() {
		for _, k := range m.Keys() {
			if m.Topic == topic && k == key {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (f *fake) MessagesByUniqueKey(ctx context.Context, topic, key string) ([]*message.MessageExt, error) {
	for _, m := range f.all() {
		if m.Topic == topic && m.UniqKey() == key {
			return []*message.MessageExt{m}, nil
		}
	}
	return nil, admin.ErrMessageNotFound
}

func (f *fake) MessageAtOffset(ctx context.Context, topic, brokerName string, queueID int32, offset int64) (*message.MessageExt, error) {
	qs, err := f.queues(topic)
	if err != nil {
		return nil, err
	}
	if brokerName != "b0" || int(queueID) >= len(qs) || offset < 0 || offset >= int64(len(qs[queueID])) {
		return nil, admin.ErrMessageNotFound
	}
	return qs[queueID][offset], nil
}

func (f *fake) CreateTopic(ctx context.Context, spec admin.TopicSpec, cluster, brokerAddr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, spec)
	f.topics[spec.Topic] = make([][]*message.MessageExt, spec.WriteQueues)
	return nil
}

func (f *fake) DeleteTopic(ctx context.Context, topic, cluster string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.topics[topic]; !ok {
		return fmt.Errorf("admin: %w", remoting.ErrTopicNotExist)
	}
	f.deleted = append(f.deleted, topic)
	delete(f.topics, topic)
	return nil
}

func (f *fake) ResetOffsetByTime(ctx context.Context, group, topic string, at time.Time, force bool) ([]admin.QueueOffset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[group]; !ok {
		return nil, admin.ErrGroupNotFound
	}
	f.resets = append(f.resets, group+"/"+topic)
	return []admin.QueueOffset{{Topic: topic, Broker: "b0", QueueID: 0, Offset: 1}, {Topic: topic, Broker: "b0", QueueID: 1, Offset: 0}}, nil
}

func (f *fake) ProducerConnections(ctx context.Context, group, topic string) ([]admin.Connection, error) {
	if f.down != nil {
		return nil, f.down
	}
	if group != "PG" {
		return nil, nil
	}
	return []admin.Connection{{ClientID: "prod@1", ClientAddr: "10.0.0.2:6000", Language: "JAVA", Version: 453}}, nil
}

func (f *fake) ConsumeMessageDirectly(ctx context.Context, group, clientID, topic, msgID string) (admin.DirectResult, error) {
	if f.down != nil {
		return admin.DirectResult{}, f.down
	}
	if _, err := f.MessageByID(ctx, msgID); err != nil {
		return admin.DirectResult{}, err
	}
	if clientID == "gone" {
		return admin.DirectResult{}, fmt.Errorf("admin: %w: the consumer <gone> of group <%s> is not online", remoting.CodeError(remoting.SystemError), group)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.direct = append(f.direct, group+"/"+clientID+"/"+msgID)
	return admin.DirectResult{AutoCommit: true, Result: "CR_SUCCESS", SpentMillis: 3}, nil
}

func newTest(t *testing.T, f *fake, cfg Config) *httptest.Server {
	t.Helper()
	c, err := New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path and returns status and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%s", w, body)
		}
	}
}

func seeded() *fake {
	f := newFake()
	now := time.Now().UnixMilli()
	f.addMessage("Orders", 0, now-3000, `{"id":1,"item":"book"}`, "KEYS", "order-1", "TAGS", "paid", "UNIQ_KEY", "AC110001000000000000000000000001")
	f.addMessage("Orders", 0, now-2000, "second", "KEYS", "order-2")
	f.addMessage("Orders", 1, now-1000, "third")
	f.groups["OrderService"] = admin.Progress{Group: "OrderService", TotalLag: 5, Queues: []admin.QueueProgress{
		{Topic: "Orders", Broker: "b0", QueueID: 0, BrokerOffset: 2, ConsumerOffset: 0, Lag: 2},
		{Topic: "Orders", Broker: "b0", QueueID: 1, BrokerOffset: 4, ConsumerOffset: 1, Lag: 3},
	}}
	return f
}

func TestPages(t *testing.T) {
	f := seeded()
	srv := newTest(t, f, Config{})
	cases := []struct {
		path string
		want []string
	}{
		{"/cluster", []string{"DefaultCluster", "master", "slave", "V5_3_3", "12.50", "3.25", "0.42", "slave unreachable"}},
		{"/topics", []string{`href="/topics/Orders"`, "system topics hidden"}},
		{"/topics?system=1", []string{`href="/topics/%25RETRY%25OrderService"`}},
		{"/topics?q=ord", []string{"Orders"}},
		{"/topics/Orders", []string{"Route", "127.0.0.1:10911", "3 messages kept", `name="csrf"`, "Delete topic"}},
		{"/groups", []string{`href="/groups/OrderService"`}},
		{"/groups/OrderService", []string{`id="total-lag">5<`, "CLUSTERING", "10.0.0.1:5000", "Lag per queue"}},
		{"/groups/offline", nil},
		{"/messages", []string{"By time", "By key", "By message id"}},
		{"/messages?mode=key&topic=Orders&key=order-2", []string{"1 messages", "second"[:0]}},
		{"/messages?mode=id&topic=Orders&id=AC110001000000000000000000000001", []string{"1 messages", "paid"}},
	}
	f.groups["offline"] = admin.Progress{Group: "offline"}
	for _, c := range cases {
		code, body := get(t, srv, c.path)
		if code != http.StatusOK {
			t.Errorf("%s: status %d\n%s", c.path, code, body)
			continue
		}
		mustContain(t, body, c.want...)
	}
	if _, body := get(t, srv, "/topics?q=zzz"); strings.Contains(body, `href="/topics/Orders"`) {
		t.Error("filter did not filter")
	}
	if _, body := get(t, srv, "/groups/offline"); !strings.Contains(body, "No members online") {
		t.Errorf("offline group: %s", body)
	}
}

func TestMessagesByTimeAndDetail(t *testing.T) {
	f := newFake()
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.Local)
	for i := 0; i < 100; i++ {
		f.addMessage("T", i%2, base.Add(time.Duration(i)*time.Minute).UnixMilli(), fmt.Sprintf("m%03d", i))
	}
	srv := newTest(t, f, Config{})
	q := url.Values{"mode": {"time"}, "topic": {"T"}, "begin": {base.Add(10 * time.Minute).Format(timeInput)}, "end": {base.Add(20 * time.Minute).Format(timeInput)}}
	code, body := get(t, srv, "/messages?"+q.Encode())
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	mustContain(t, body, "10 messages")
	// m010 is queue 0 offset 5; m020 (the end, exclusive) must be absent.
	mustContain(t, body, "queue=0&amp;topic=T", "offset=5")
	code, body = get(t, srv, "/message?topic=T&broker=b0&queue=0&offset=5")
	if code != 200 {
		t.Fatalf("detail status %d: %s", code, body)
	}
	mustContain(t, body, "m010", "6d 30 31 30") // text and hex dump
	// Truncation past Max.
	q.Set("end", base.Add(99*time.Minute).Format(timeInput))
	q.Set("begin", base.Format(timeInput))
	_, body = get(t, srv, "/messages?"+q.Encode())
	mustContain(t, body, "64 messages (the first 64")

	code, _ = get(t, srv, "/messages?mode=time&topic=T&begin=yesterday&end=x")
	if code != http.StatusBadRequest {
		t.Errorf("bad time: status %d, want 400", code)
	}
	code, _ = get(t, srv, "/message?topic=T&broker=b0&queue=0&offset=-1")
	if code != http.StatusBadRequest {
		t.Errorf("bad offset: status %d, want 400", code)
	}
	code, _ = get(t, srv, "/message?topic=T&broker=b0&queue=0&offset=500")
	if code != http.StatusNotFound {
		t.Errorf("missing message: status %d, want 404", code)
	}
}

func TestMessageDetailJSONAndByOffsetID(t *testing.T) {
	f := seeded()
	srv := newTest(t, f, Config{})
	m := f.topics["Orders"][0][0]
	code, body := get(t, srv, "/message?id="+m.OffsetMsgID())
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	mustContain(t, body, `id="body-json"`, "&#34;item&#34;: &#34;book&#34;", "order-1", "KEYS")
	// By offset id through the search form, no topic needed.
	_, body = get(t, srv, "/messages?mode=id&id="+m.OffsetMsgID())
	mustContain(t, body, "1 messages")
	// A unique id without topic is a usage error.
	code, _ = get(t, srv, "/messages?mode=id&id=not-an-offset-id")
	if code != http.StatusBadRequest {
		t.Errorf("unique id without topic: %d", code)
	}
}

func TestErrorStates(t *testing.T) {
	f := seeded()
	srv := newTest(t, f, Config{})
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/topics/Nope", 404, "TOPIC_NOT_EXIST"},
		{"/groups/Nope", 404, "consumer group not found"},
		{"/messages?mode=key&topic=Nope&key=k", 404, ""},
		{"/message", 400, "name a message"},
	} {
		code, body := get(t, srv, c.path)
		if code != c.code || !strings.Contains(body, `class="error"`) {
			t.Errorf("%s: status %d (want %d), body:\n%s", c.path, code, c.code, body)
		}
		_ = c.want
	}
	f.down = errDown
	for _, p := range []string{"/cluster", "/topics", "/topics/Orders", "/groups", "/groups/OrderService", "/messages?mode=time&topic=Orders", "/dlq", "/producers?group=PG&topic=Orders"} {
		code, body := get(t, srv, p)
		if code != http.StatusBadGateway || !strings.Contains(body, "connection refused") {
			t.Errorf("%s with name server down: status %d\n%s", p, code, body)
		}
	}
	// An empty cluster is shown as such.
	f.down = nil
	empty := newTest(t, newFake(), Config{})
	_, body := get(t, empty, "/topics")
	mustContain(t, body, "0 shown of 0")
}

func TestNoPermissionIs403(t *testing.T) {
	if got := statusOf(fmt.Errorf("x: %w", remoting.ErrNoPermission)); got != http.StatusForbidden {
		t.Fatalf("status %d", got)
	}
}

func TestEscaping(t *testing.T) {
	f := newFake()
	evil := "<script>alert(1)</script>"
	m := f.addMessage("x"+"<script>", 0, time.Now().UnixMilli(), evil, "KEYS", evil, "P"+evil, evil, "TAGS", evil)
	f.groups[evil] = admin.Progress{Group: evil, Queues: []admin.QueueProgress{{Topic: evil, Broker: "b0"}}}
	srv := newTest(t, f, Config{})
	pages := []string{
		"/topics", "/topics?system=1&q=" + url.QueryEscape(evil),
		"/topics/" + url.PathEscape("x<script>"),
		"/groups", "/groups/" + url.PathEscape(evil),
		"/messages?mode=key&topic=" + url.QueryEscape("x<script>") + "&key=" + url.QueryEscape(evil),
		"/message?id=" + m.OffsetMsgID(),
		"/topics/" + url.PathEscape(evil),
		"/producers?group=" + url.QueryEscape(evil) + "&topic=" + url.QueryEscape(evil),
		"/dlq",
	}
	for _, p := range pages {
		_, body := get(t, srv, p)
		if strings.Contains(body, "<script") {
			t.Errorf("%s: unescaped <script in page:\n%s", p, body)
		}
	}
	_, body := get(t, srv, "/message?id="+m.OffsetMsgID())
	mustContain(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

// post submits a form with the csrf cookie and field taken from a GET.
func post(t *testing.T, srv *httptest.Server, path string, form url.Values, withToken bool) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/topics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var tok string
	for _, ck := range resp.Cookies() {
		if ck.Name == csrfCookie {
			tok = ck.Value
		}
	}
	if tok == "" {
		t.Fatal("no csrf cookie set")
	}
	if withToken {
		form.Set("csrf", tok)
	}
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTopicWritesAndCSRF(t *testing.T) {
	f := seeded()
	srv := newTest(t, f, Config{})
	code, body := post(t, srv, "/topics", url.Values{"topic": {"New"}, "cluster": {"DefaultCluster"}, "queues": {"4"}}, false)
	if code != http.StatusForbidden || len(f.created) != 0 {
		t.Fatalf("without token: %d %s", code, body)
	}
	code, body = post(t, srv, "/topics", url.Values{"topic": {"New"}, "cluster": {"DefaultCluster"}, "queues": {"4"}}, true)
	if code != http.StatusSeeOther || len(f.created) != 1 || f.created[0].WriteQueues != 4 {
		t.Fatalf("create: %d %s %+v", code, body, f.created)
	}
	code, _ = post(t, srv, "/topics", url.Values{"topic": {"bad name!"}, "cluster": {"DefaultCluster"}}, true)
	if code != http.StatusBadRequest {
		t.Errorf("bad topic name: %d", code)
	}
	code, _ = post(t, srv, "/topics/New/delete", url.Values{"confirm": {"Wrong"}}, true)
	if code != http.StatusBadRequest || len(f.deleted) != 0 {
		t.Errorf("unconfirmed delete: %d", code)
	}
	code, _ = post(t, srv, "/topics/New/delete", url.Values{"confirm": {"New"}, "cluster": {"DefaultCluster"}}, true)
	if code != http.StatusSeeOther || len(f.deleted) != 1 {
		t.Errorf("delete: %d %v", code, f.deleted)
	}
	// Cross-origin POST is refused even with the token.
	req, _ := http.NewRequest("POST", srv.URL+"/topics", strings.NewReader("topic=X&cluster=C&csrf=abc"))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin: %d", resp.StatusCode)
	}
}

func TestResetProducersDLQ(t *testing.T) {
	f := seeded()
	f.addMessage("%DLQ%OrderService", 0, time.Now().UnixMilli(), "dead", "RETRY_TOPIC", "Orders")
	srv := newTest(t, f, Config{})
	_, body := get(t, srv, "/groups/OrderService")
	mustContain(t, body, `id="reset"`, "<option>Orders</option>", "%25DLQ%25OrderService")
	at := time.Now().Add(-time.Hour).Format(timeInput)
	code, _ := post(t, srv, "/groups/OrderService/reset", url.Values{"topic": {"Orders"}, "at": {at}}, true)
	if code != http.StatusBadRequest || len(f.resets) != 0 {
		t.Errorf("unconfirmed reset: %d", code)
	}
	code, body = post(t, srv, "/groups/OrderService/reset", url.Values{"topic": {"Orders"}, "at": {at}, "confirm": {"OrderService"}, "force": {"1"}}, true)
	if code != http.StatusSeeOther || len(f.resets) != 1 {
		t.Errorf("reset: %d %s", code, body)
	}
	code, _ = post(t, srv, "/groups/Nope/reset", url.Values{"topic": {"Orders"}, "at": {at}, "confirm": {"Nope"}}, true)
	if code != http.StatusNotFound {
		t.Errorf("reset of unknown group: %d", code)
	}
	_, body = get(t, srv, "/producers?group=PG&topic=Orders")
	mustContain(t, body, "prod@1", "10.0.0.2:6000")
	_, body = get(t, srv, "/producers?group=other&topic=Orders")
	mustContain(t, body, "No producer of this group")
	_, body = get(t, srv, "/dlq")
	mustContain(t, body, "%DLQ%OrderService", `href="/groups/OrderService"`, "topic=%25DLQ%25OrderService")
	_, body = get(t, newTest(t, newFake(), Config{}), "/dlq")
	mustContain(t, body, "No dead-letter topics")
}

func TestReadOnly(t *testing.T) {
	f := seeded()
	srv := newTest(t, f, Config{ReadOnly: true})
	_, body := get(t, srv, "/groups/OrderService")
	if strings.Contains(body, `id="reset"`) {
		t.Error("read-only group page offers a reset")
	}
	_, body = get(t, srv, "/topics/Orders")
	if strings.Contains(body, "Delete topic") || !strings.Contains(body, "read-only") {
		t.Errorf("read-only page offers writes:\n%s", body)
	}
	code, _ := post(t, srv, "/topics", url.Values{"topic": {"New"}, "cluster": {"DefaultCluster"}}, true)
	if code != http.StatusForbidden || len(f.created) != 0 {
		t.Errorf("read-only create: %d", code)
	}
}

func TestBasicAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	os.WriteFile(path, []byte("# console users\nalice:secret\nbob:sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n"), 0o600)
	users, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTest(t, seeded(), Config{Users: users})
	for _, c := range []struct {
		user, pass string
		code       int
	}{{"", "", 401}, {"alice", "wrong", 401}, {"alice", "secret", 200}, {"bob", "secret", 200}, {"carol", "secret", 401}} {
		req, _ := http.NewRequest("GET", srv.URL+"/topics", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s/%s: %d, want %d", c.user, c.pass, resp.StatusCode, c.code)
		}
	}
	os.WriteFile(path, []byte("nocolon\n"), 0o600)
	if _, err := LoadUsers(path); err == nil {
		t.Error("malformed users file accepted")
	}
}

func TestStaticAndListen(t *testing.T) {
	c, err := New(seeded(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "rocketgo console") {
		t.Errorf("css: %d", resp.StatusCode)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP header")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLiveSampler(t *testing.T) {
	f := seeded()
	s := newSampler(f, 5*time.Second, 15*time.Second) // keeps 3 points
	t0 := time.Unix(1_700_000_000, 0)
	s.sample(context.Background(), t0)
	p := f.groups["OrderService"]
	p.Queues[0].BrokerOffset += 50  // 10 msg/s in
	p.Queues[1].ConsumerOffset += 3 // 0.6 msg/s out
	p.TotalLag = 52
	f.groups["OrderService"] = p
	s.sample(context.Background(), t0.Add(5*time.Second))
	in, out, lag := s.snapshot("in/"), s.snapshot("out/"), s.snapshot("lag/")
	if got := in["Orders"].V; len(got) != 1 || got[0] != 10 {
		t.Errorf("in: %v", got)
	}
	if got := out["Orders"].V; len(got) != 1 || got[0] != 0.6 {
		t.Errorf("out: %v", got)
	}
	if got := lag["OrderService"].V; len(got) != 2 || got[1] != 52 {
		t.Errorf("lag: %v", got)
	}
	for i := 2; i < 6; i++ {
		s.sample(context.Background(), t0.Add(time.Duration(i)*5*time.Second))
	}
	if n := len(s.snapshot("lag/")["OrderService"].T); n != 3 {
		t.Errorf("window keeps %d points, want 3", n)
	}
	// Name server down: no point, no zero.
	f.down = errDown
	s.sample(context.Background(), t0.Add(time.Minute))
	if v := s.snapshot("lag/")["OrderService"].V; v[len(v)-1] != 52 {
		t.Errorf("a failed sample recorded %v", v)
	}
}

func TestLivePagesAndClose(t *testing.T) {
	f := seeded()
	c, err := New(f, Config{SampleEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, srv, "/live.json")
		if strings.Contains(body, `"OrderService":{"t":[`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lag series: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, body := get(t, srv, "/live")
	mustContain(t, body, `id="chart-lag"`, `src="/static/live.js"`)
	c.Close() // returns only once the sampler goroutine has ended

	off := newTest(t, f, Config{})
	code, body := get(t, off, "/live")
	if code != http.StatusBadRequest || !strings.Contains(body, "live charts are off") {
		t.Errorf("live off: %d", code)
	}
}

type fakeSender struct{ sent []*message.Message }

func (s *fakeSender) Send(ctx context.Context, m *message.Message) (string, error) {
	if m.Topic == "Refused" {
		return "", fmt.Errorf("send: %w", remoting.ErrNoPermission)
	}
	s.sent = append(s.sent, m)
	return "AC1100010000000000000000000000FF", nil
}

func TestResendDLQMessage(t *testing.T) {
	f := seeded()
	dead := f.addMessage("%DLQ%OrderService", 0, time.Now().UnixMilli(), "dead body", "RETRY_TOPIC", "Orders", "KEYS", "order-9",
		"UNIQ_KEY", "AC110001000000000000000000000009", "RECONSUME_TIME", "16", "custom", "kept")
	snd := &fakeSender{}
	srv := newTest(t, f, Config{Sender: snd})
	_, body := get(t, srv, "/message?id="+dead.OffsetMsgID())
	mustContain(t, body, `id="resend"`, `name="target" value="Orders"`)
	code, _ := post(t, srv, "/message/resend", url.Values{"id": {dead.OffsetMsgID()}, "target": {"Orders"}}, true)
	if code != http.StatusSeeOther || len(snd.sent) != 1 {
		t.Fatalf("resend: %d, sent %d", code, len(snd.sent))
	}
	m := snd.sent[0]
	if m.Topic != "Orders" || string(m.Body) != "dead body" {
		t.Errorf("sent %s %q", m.Topic, m.Body)
	}
	if v, _ := m.Property("custom"); v != "kept" {
		t.Error("user property lost")
	}
	for _, k := range []string{"UNIQ_KEY", "RETRY_TOPIC", "RECONSUME_TIME"} {
		if _, ok := m.Property(k); ok {
			t.Errorf("system property %s re-sent", k)
		}
	}
	code, body = post(t, srv, "/message/resend", url.Values{"id": {dead.OffsetMsgID()}, "target": {"Refused"}}, true)
	if code != http.StatusForbidden || !strings.Contains(body, "NO_PERMISSION") && !strings.Contains(body, "permission") {
		t.Errorf("refused by ACL: %d %s", code, body)
	}
	// Without a sender (or read-only) nothing is offered.
	_, body = get(t, newTest(t, f, Config{}), "/message?id="+dead.OffsetMsgID())
	if strings.Contains(body, `id="resend"`) {
		t.Error("re-send offered without a sender")
	}
}

// TestConsumeDirectly: the detail page of a DLQ message guesses its group,
// lists the group's online members once chosen, and the form asks the one
// picked to consume the message; bad input, an offline member and
// read-only are refused.
func TestConsumeDirectly(t *testing.T) {
	f := seeded()
	dead := f.addMessage("%DLQ%OrderService", 0, time.Now().UnixMilli(), "dead body", "RETRY_TOPIC", "Orders")
	id := dead.OffsetMsgID()
	srv := newTest(t, f, Config{})
	_, body := get(t, srv, "/message?id="+id)
	mustContain(t, body, `id="choose-group"`, `name="group" value="OrderService"`)
	if strings.Contains(body, `id="consume"`) {
		t.Error("members offered before a group was chosen")
	}
	_, body = get(t, srv, "/message?group=OrderService&id="+id)
	mustContain(t, body, `id="consume"`, `<option>10.0.0.1@&lt;script&gt;alert(1)&lt;/script&gt;</option>`)
	_, body = get(t, srv, "/message?group=offline&id="+id)
	mustContain(t, body, "No member of offline is online")
	if strings.Contains(body, `id="consume"`) {
		t.Error("consume form offered without members")
	}

	code, _ := post(t, srv, "/message/consume", url.Values{"id": {id}, "group": {"OrderService"}, "client": {"10.0.0.1@x"}}, false)
	if code != http.StatusForbidden || len(f.direct) != 0 {
		t.Fatalf("without CSRF token: %d", code)
	}
	code, body = post(t, srv, "/message/consume", url.Values{"id": {id}, "group": {"OrderService"}, "client": {"10.0.0.1@x"}}, true)
	if code != http.StatusSeeOther || len(f.direct) != 1 || f.direct[0] != "OrderService/10.0.0.1@x/"+id {
		t.Fatalf("consume: %d %v %s", code, f.direct, body)
	}
	for _, bad := range []url.Values{
		{"id": {id}, "group": {"OrderService"}},                          // no member
		{"id": {"nonsense"}, "group": {"OrderService"}, "client": {"c"}}, // not an offset id
	} {
		if code, body := post(t, srv, "/message/consume", bad, true); code != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, code, body)
		}
	}
	code, body = post(t, srv, "/message/consume", url.Values{"id": {id}, "group": {"OrderService"}, "client": {"gone"}}, true)
	if code != http.StatusBadGateway || !strings.Contains(body, "not online") {
		t.Errorf("offline member: %d %s", code, body)
	}
	f.down = errDown
	if code, _ := post(t, srv, "/message/consume", url.Values{"id": {id}, "group": {"OrderService"}, "client": {"c"}}, true); code != http.StatusBadGateway {
		t.Errorf("cluster down: %d", code)
	}
	f.down = nil

	ro := newTest(t, f, Config{ReadOnly: true})
	if _, body := get(t, ro, "/message?group=OrderService&id="+id); strings.Contains(body, `id="consume"`) || strings.Contains(body, `id="choose-group"`) {
		t.Error("read-only console offers consume directly")
	}
	if code, _ := post(t, ro, "/message/consume", url.Values{"id": {id}, "group": {"OrderService"}, "client": {"c"}}, true); code != http.StatusForbidden {
		t.Errorf("read-only: %d", code)
	}
	if len(f.direct) != 1 {
		t.Errorf("calls %v", f.direct)
	}
}

// TestCreateTopicAwaitsRoute: the broker reports a new topic to the name
// server a little later; the create action waits for the route, so the
// topic's page it leads to shows the topic and not "no route".
func TestCreateTopicAwaitsRoute(t *testing.T) {
	f := seeded()
	f.unrouted = map[string]int{"Late": 3}
	srv := newTest(t, f, Config{})
	code, body := post(t, srv, "/topics", url.Values{"topic": {"Late"}, "cluster": {"DefaultCluster"}}, true)
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := get(t, srv, "/topics/Late"); code != http.StatusOK {
		t.Errorf("topic page right after creation: %d %s", code, body)
	}
}
