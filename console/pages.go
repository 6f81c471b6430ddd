package console

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

type page struct{ t *template.Template }

var funcs = template.FuncMap{
	"ms": func(ms int64) string {
		if ms <= 0 {
			return "-"
		}
		return time.UnixMilli(ms).Format("2006-01-02 15:04:05.000")
	},
	"join":     strings.Join,
	"pe":       url.PathEscape,
	"eqPrefix": strings.HasPrefix,
}

var pageNames = []string{"cluster", "topics", "topic", "groups", "group", "messages", "message", "error", "producers", "dlq", "live"}

func parsePages() (map[string]*page, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	out := map[string]*page{}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		out[name] = &page{t: t}
	}
	return out, nil
}

// view is what every template receives.
type view struct {
	Title    string
	Nav      string
	CSRF     string
	ReadOnly bool
	Flash    string
	Error    string
	Data     any
}

func (c *Console) routes() {
	c.mux.HandleFunc("GET /cluster", c.cluster)
	c.mux.HandleFunc("GET /topics", c.topics)
	c.mux.HandleFunc("GET /topics/{topic}", c.topic)
	c.mux.HandleFunc("POST /topics", c.createTopic)
	c.mux.HandleFunc("POST /topics/{topic}/delete", c.deleteTopic)
	c.mux.HandleFunc("GET /groups", c.groups)
	c.mux.HandleFunc("GET /groups/{group}", c.group)
	c.mux.HandleFunc("GET /messages", c.messages)
	c.mux.HandleFunc("GET /message", c.messageDetail)
	c.mux.HandleFunc("POST /groups/{group}/reset", c.resetOffset)
	c.mux.HandleFunc("GET /producers", c.producers)
	c.mux.HandleFunc("GET /dlq", c.dlq)
	c.mux.HandleFunc("POST /message/resend", c.resend)
	c.mux.HandleFunc("POST /message/consume", c.consumeDirectly)
	c.mux.HandleFunc("GET /live", c.live)
	c.mux.HandleFunc("GET /live.json", c.liveJSON)
}

// render executes page name into a buffer first, so a template failure
// becomes a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, nav, title string, data any, pageErr error) {
	v := view{Title: title, Nav: nav, CSRF: csrfToken(r), ReadOnly: c.cfg.ReadOnly, Flash: r.URL.Query().Get("flash"), Data: data}
	if pageErr != nil {
		v.Error = pageErr.Error()
		if status == http.StatusOK {
			status = statusOf(pageErr)
		}
		c.log.Warn("console page failed", "path", r.URL.Path, "err", pageErr)
	}
	var buf bytes.Buffer
	if err := c.pages[name].t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, "internal error rendering page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// statusOf maps an admin failure onto an HTTP status: not-found kinds are
// 404, refusals 403, everything else (name server down, timeouts) 502.
func statusOf(err error) int {
	switch {
	case errors.Is(err, remoting.ErrTopicNotExist), errors.Is(err, admin.ErrGroupNotFound),
		errors.Is(err, admin.ErrMessageNotFound), errors.Is(err, admin.ErrBrokerNotFound):
		return http.StatusNotFound
	case errors.Is(err, remoting.ErrNoPermission):
		return http.StatusForbidden
	case errors.Is(err, errBadInput):
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

var errBadInput = errors.New("bad input")

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadInput, fmt.Sprintf(format, a...))
}

func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.cfg.Timeout)
}

// --- Cluster ---

type brokerRow struct {
	admin.Broker
	Role       string
	Version    string
	InTPS      string
	OutTPS     string
	DiskRatio  string
	RuntimeErr string
}

func (c *Console) cluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	ci, err := c.be.Cluster(ctx)
	if err != nil {
		c.render(w, r, http.StatusOK, "cluster", "cluster", "Cluster", nil, err)
		return
	}
	rows := make([]brokerRow, len(ci.Brokers))
	var wg sync.WaitGroup
	for i, b := range ci.Brokers {
		rows[i] = brokerRow{Broker: b, Role: "slave"}
		if b.ID == 0 {
			rows[i].Role = "master"
		}
		wg.Add(1)
		go func(row *brokerRow) {
			defer wg.Done()
			kv, err := c.be.BrokerRuntime(ctx, row.Addr)
			if err != nil {
				row.RuntimeErr = err.Error()
				return
			}
			row.Version = kv["brokerVersionDesc"]
			row.InTPS = firstField(kv["putTps"])
			row.OutTPS = firstField(kv["getTransferredTps"])
			if row.OutTPS == "" {
				row.OutTPS = firstField(kv["getTransferedTps"])
			}
			row.DiskRatio = kv["commitLogDiskRatio"]
		}(&rows[i])
	}
	wg.Wait()
	c.render(w, r, http.StatusOK, "cluster", "cluster", "Cluster", rows, nil)
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// --- Topics ---

type topicsData struct {
	Filter  string
	System  bool
	Topics  []string
	Total   int
	Hidden  int
	Cluster string
}

// isSystemTopic: retry, DLQ and the broker's own topics, hidden unless asked.
func isSystemTopic(t string) bool {
	return strings.HasPrefix(t, "%") || strings.HasPrefix(t, "rmq_sys_") || strings.HasPrefix(t, "RMQ_SYS_") ||
		strings.HasPrefix(t, "SCHEDULE_TOPIC_") || t == "TBW102" || t == "SELF_TEST_TOPIC" || t == "OFFSET_MOVED_EVENT" ||
		t == "BenchmarkTest" || t == "TRANS_CHECK_MAX_TIME_TOPIC" || strings.HasSuffix(t, "_REPLY_TOPIC")
}

func (c *Console) topics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := topicsData{Filter: strings.TrimSpace(q.Get("q")), System: q.Get("system") == "1"}
	all, err := c.be.Topics(ctx)
	if err != nil {
		c.render(w, r, http.StatusOK, "topics", "topics", "Topics", d, err)
		return
	}
	d.Total = len(all)
	filter := strings.ToLower(d.Filter)
	for _, t := range all {
		if !d.System && isSystemTopic(t) {
			d.Hidden++
			continue
		}
		if filter == "" || strings.Contains(strings.ToLower(t), filter) {
			d.Topics = append(d.Topics, t)
		}
	}
	slices.Sort(d.Topics)
	c.render(w, r, http.StatusOK, "topics", "topics", "Topics", d, nil)
}

type topicData struct {
	Topic  string
	Route  *wire.TopicRoute
	Queues []admin.QueueStatus
	Total  int64
}

func (c *Console) topic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d := topicData{Topic: r.PathValue("topic")}
	route, err := c.be.Route(ctx, d.Topic)
	if err == nil {
		d.Route = route
		d.Queues, err = c.be.TopicStatus(ctx, d.Topic)
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "topic", "topics", "Topic "+d.Topic, d, err)
		return
	}
	for _, q := range d.Queues {
		d.Total += q.MaxOffset - q.MinOffset
	}
	c.render(w, r, http.StatusOK, "topic", "topics", "Topic "+d.Topic, d, nil)
}

func (c *Console) createTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	topic := strings.TrimSpace(r.PostFormValue("topic"))
	cluster := strings.TrimSpace(r.PostFormValue("cluster"))
	spec := admin.TopicSpec{Topic: topic, ReadQueues: 8, WriteQueues: 8, Perm: wire.PermRead | wire.PermWrite}
	var err error
	if n, e := strconv.Atoi(r.PostFormValue("queues")); e == nil {
		if n < 1 || n > 1024 {
			err = badInput("queues must be between 1 and 1024")
		}
		spec.ReadQueues, spec.WriteQueues = int32(n), int32(n)
	}
	if err == nil {
		err = validTopic(topic)
	}
	if err == nil && cluster == "" {
		err = badInput("cluster is required")
	}
	if err == nil {
		err = c.be.CreateTopic(ctx, spec, cluster, "")
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "error", "topics", "Create topic", nil, fmt.Errorf("create topic %q: %w", topic, err))
		return
	}
	// rocketgo's and upstream's brokers answer a creation only once the name
	// servers hold the route, so this returns at the first look; a broker
	// that announces later gets a moment rather than a "no route" page.
	c.awaitRoute(ctx, topic, 3*time.Second)
	http.Redirect(w, r, "/topics/"+urlPathEscape(topic)+"?flash=created", http.StatusSeeOther)
}

// awaitRoute polls the topic's route until it exists, ctx ends or wait
// passes.
func (c *Console) awaitRoute(ctx context.Context, topic string, wait time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		if _, err := c.be.Route(ctx, topic); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Console) deleteTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	topic := r.PathValue("topic")
	var err error
	if r.PostFormValue("confirm") != topic {
		err = badInput("type the topic's name to confirm its deletion")
	}
	if err == nil {
		err = c.be.DeleteTopic(ctx, topic, strings.TrimSpace(r.PostFormValue("cluster")))
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "error", "topics", "Delete topic", nil, fmt.Errorf("delete topic %q: %w", topic, err))
		return
	}
	http.Redirect(w, r, "/topics?flash=deleted", http.StatusSeeOther)
}

// validTopic applies RocketMQ's topic name rule: at most 127 characters of
// letters, digits, '%', '-', '_' and '|'.
func validTopic(t string) error {
	if t == "" || len(t) > 127 {
		return badInput("topic name must be 1 to 127 characters")
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '%' || r == '-' || r == '_' || r == '|') {
			return badInput("topic name may hold only letters, digits, %%, -, _ and |")
		}
	}
	return nil
}

// --- Consumer groups ---

type groupsData struct {
	Filter string
	Groups []string
}

// groups lists the groups the cluster knows of through their retry
// topics (every subscribed group gets one).
func (c *Console) groups(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d := groupsData{Filter: strings.TrimSpace(r.URL.Query().Get("q"))}
	all, err := c.be.Topics(ctx)
	if err != nil {
		c.render(w, r, http.StatusOK, "groups", "groups", "Consumer groups", d, err)
		return
	}
	filter := strings.ToLower(d.Filter)
	for _, t := range all {
		if g, ok := strings.CutPrefix(t, "%RETRY%"); ok && g != "" {
			if filter == "" || strings.Contains(strings.ToLower(g), filter) {
				d.Groups = append(d.Groups, g)
			}
		}
	}
	slices.Sort(d.Groups)
	c.render(w, r, http.StatusOK, "groups", "groups", "Consumer groups", d, nil)
}

type groupData struct {
	Group       string
	Now         string
	Progress    admin.Progress
	Conns       admin.ConsumerConnections
	ConnsErr    string
	Subscribed  []string
	TopicTotals []topicLag
}

type topicLag struct {
	Topic string
	Lag   int64
}

func (c *Console) group(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d := groupData{Group: r.PathValue("group"), Now: time.Now().Add(-time.Hour).Format(timeInput)}
	var err error
	d.Progress, err = c.be.ConsumerProgress(ctx, d.Group, "")
	if err != nil {
		c.render(w, r, http.StatusOK, "group", "groups", "Group "+d.Group, d, err)
		return
	}
	// A group without live members has no connections: that is a state to
	// show, not a failure of the page.
	if d.Conns, err = c.be.ConsumerConnections(ctx, d.Group); err != nil {
		d.ConnsErr = err.Error()
	}
	for t := range d.Conns.Subscriptions {
		d.Subscribed = append(d.Subscribed, t)
	}
	slices.Sort(d.Subscribed)
	for _, q := range d.Progress.Queues {
		if n := len(d.TopicTotals); n > 0 && d.TopicTotals[n-1].Topic == q.Topic {
			d.TopicTotals[n-1].Lag += q.Lag
			continue
		}
		d.TopicTotals = append(d.TopicTotals, topicLag{Topic: q.Topic, Lag: q.Lag})
	}
	c.render(w, r, http.StatusOK, "group", "groups", "Group "+d.Group, d, nil)
}

func (c *Console) resetOffset(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	group := r.PathValue("group")
	topic := strings.TrimSpace(r.PostFormValue("topic"))
	at, err := time.ParseInLocation(timeInput, r.PostFormValue("at"), time.Local)
	if err != nil {
		err = badInput("the time must look like 2006-01-02T15:04")
	} else if topic == "" {
		err = badInput("choose a topic")
	} else if r.PostFormValue("confirm") != group {
		err = badInput("type the group's name to confirm the reset")
	}
	var offs []admin.QueueOffset
	if err == nil {
		offs, err = c.be.ResetOffsetByTime(ctx, group, topic, at, r.PostFormValue("force") == "1")
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "error", "groups", "Reset offsets", nil, fmt.Errorf("reset %s on %s: %w", group, topic, err))
		return
	}
	http.Redirect(w, r, "/groups/"+urlPathEscape(group)+"?flash="+url.QueryEscape(fmt.Sprintf("%d queues of %s reset to %s", len(offs), topic, at.Format(timeInput))), http.StatusSeeOther)
}

// --- Producers ---

type producersData struct {
	Group, Topic string
	Searched     bool
	Conns        []admin.Connection
}

// producers lists the connections of a producer group sending to a topic
// (brokers only know producers by that pair).
func (c *Console) producers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := producersData{Group: strings.TrimSpace(q.Get("group")), Topic: strings.TrimSpace(q.Get("topic"))}
	var err error
	if d.Group != "" && d.Topic != "" {
		d.Searched = true
		d.Conns, err = c.be.ProducerConnections(ctx, d.Group, d.Topic)
	}
	c.render(w, r, http.StatusOK, "producers", "producers", "Producers", d, err)
}

// --- DLQ ---

type dlqRow struct{ Topic, Group, Browse string }

// dlq lists the dead-letter topics (%DLQ%group) with a week of messages a
// click away.
func (c *Console) dlq(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	all, err := c.be.Topics(ctx)
	var rows []dlqRow
	now := time.Now()
	for _, t := range all {
		if g, ok := strings.CutPrefix(t, "%DLQ%"); ok {
			v := url.Values{"mode": {"time"}, "topic": {t}, "begin": {now.Add(-7 * 24 * time.Hour).Format(timeInput)}, "end": {now.Add(time.Minute).Format(timeInput)}}
			rows = append(rows, dlqRow{Topic: t, Group: g, Browse: "/messages?" + v.Encode()})
		}
	}
	slices.SortFunc(rows, func(a, b dlqRow) int { return strings.Compare(a.Topic, b.Topic) })
	c.render(w, r, http.StatusOK, "dlq", "dlq", "Dead-letter queues", rows, err)
}

// --- Messages ---

const timeInput = "2006-01-02T15:04" // <input type="datetime-local">

type messagesData struct {
	Mode, Topic, Key, ID string
	Begin, End           string
	Max                  int
	Searched             bool
	Results              []msgRow
	Truncated            bool
}

type msgRow struct {
	Topic, Broker, MsgID, Tags, Keys string
	QueueID                          int32
	QueueOffset                      int64
	StoreTimestamp                   int64
	BodySize                         int
	Link                             string
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	now := time.Now()
	d := messagesData{Mode: q.Get("mode"), Topic: strings.TrimSpace(q.Get("topic")), Key: strings.TrimSpace(q.Get("key")),
		ID: strings.TrimSpace(q.Get("id")), Begin: q.Get("begin"), End: q.Get("end"), Max: 64}
	if d.Mode == "" {
		d.Mode = "time"
	}
	if d.Begin == "" {
		d.Begin = now.Add(-time.Hour).Format(timeInput)
	}
	if d.End == "" {
		d.End = now.Add(time.Minute).Format(timeInput)
	}
	var msgs []*message.MessageExt
	var err error
	switch {
	case d.Mode == "time" && d.Topic != "":
		d.Searched = true
		var begin, end time.Time
		begin, err = time.ParseInLocation(timeInput, d.Begin, time.Local)
		if err == nil {
			end, err = time.ParseInLocation(timeInput, d.End, time.Local)
		}
		if err != nil {
			err = badInput("times must look like 2006-01-02T15:04")
		} else if !end.After(begin) {
			err = badInput("the end must come after the beginning")
		} else {
			msgs, d.Truncated, err = messagesByTime(ctx, c.be, d.Topic, begin, end, d.Max)
		}
	case d.Mode == "key" && d.Topic != "" && d.Key != "":
		d.Searched = true
		msgs, err = c.be.MessagesByKey(ctx, d.Topic, d.Key, admin.KeyQuery{Max: d.Max})
	case d.Mode == "id" && d.ID != "":
		d.Searched = true
		msgs, err = c.messagesByID(ctx, d.Topic, d.ID)
	}
	if errors.Is(err, admin.ErrMessageNotFound) {
		err = nil // an empty result, not a failure
	}
	for _, m := range msgs {
		d.Results = append(d.Results, rowOf(m))
	}
	c.render(w, r, http.StatusOK, "messages", "messages", "Messages", d, err)
}

// messagesByID accepts both ids a user may hold: the offset message id
// (store host + commit-log offset) and, with a topic, the producer's unique
// id (UNIQ_KEY).
func (c *Console) messagesByID(ctx context.Context, topic, id string) ([]*message.MessageExt, error) {
	if _, _, perr := message.ParseOffsetMsgID(id); perr == nil {
		m, err := c.be.MessageByID(ctx, id)
		if err == nil {
			return []*message.MessageExt{m}, nil
		}
		if topic == "" {
			return nil, err
		}
	}
	if topic == "" {
		return nil, badInput("a unique message id needs its topic")
	}
	return c.be.MessagesByUniqueKey(ctx, topic, id)
}

func rowOf(m *message.MessageExt) msgRow {
	row := msgRow{Topic: m.Topic, Broker: m.BrokerName, MsgID: m.MsgID, Tags: m.Tags(), Keys: strings.Join(m.Keys(), " "),
		QueueID: m.QueueID, QueueOffset: m.QueueOffset, StoreTimestamp: m.StoreTimestamp, BodySize: len(m.Body)}
	v := make(map[string][]string)
	if m.BrokerName != "" {
		v["topic"] = []string{m.Topic}
		v["broker"] = []string{m.BrokerName}
		v["queue"] = []string{strconv.Itoa(int(m.QueueID))}
		v["offset"] = []string{strconv.FormatInt(m.QueueOffset, 10)}
	} else {
		v["id"] = []string{m.OffsetMsgID()}
	}
	row.Link = "/message?" + encodeQuery(v)
	return row
}

type messageData struct {
	Msg        *message.MessageExt
	CanResend  bool
	Target     string // default re-send topic: the original topic of a retry/DLQ message
	CanConsume bool   // offer CONSUME_MESSAGE_DIRECTLY
	Group      string // the consumer group chosen for it (or guessed from a retry/DLQ topic)
	Clients    []string
	ClientsErr string
	OffsetID   string
	Props      [][2]string
	Text       string
	TextValid  bool
	Hex        string
	JSON       string
	BodyErr    string
	BodyCapped bool
}

// bodyShown caps how much of a body one page shows.
const bodyShown = 64 << 10

func (c *Console) messageDetail(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	m, err := c.lookup(ctx, r.URL.Query())
	if err != nil {
		c.render(w, r, http.StatusOK, "message", "messages", "Message", nil, err)
		return
	}
	d := detailOf(m)
	d.CanResend = c.cfg.Sender != nil && !c.cfg.ReadOnly
	d.CanConsume = !c.cfg.ReadOnly
	if d.CanConsume {
		d.Group = strings.TrimSpace(r.URL.Query().Get("group"))
		if d.Group != "" {
			// The group is chosen: offer its online members.
			conns, err := c.be.ConsumerConnections(ctx, d.Group)
			if err != nil {
				d.ClientsErr = err.Error()
			}
			for _, cn := range conns.Connections {
				d.Clients = append(d.Clients, cn.ClientID)
			}
		} else if g, ok := strings.CutPrefix(m.Topic, "%DLQ%"); ok {
			d.Group = g
		} else if g, ok := strings.CutPrefix(m.Topic, "%RETRY%"); ok {
			d.Group = g
		}
	}
	c.render(w, r, http.StatusOK, "message", "messages", "Message "+m.MsgID, d, nil)
}

// consumeDirectly asks one online member of a group to run a message
// through its listener now (CONSUME_MESSAGE_DIRECTLY, relayed by the
// broker storing the message) and shows its verdict.
func (c *Console) consumeDirectly(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	r.ParseForm()
	group := strings.TrimSpace(r.PostForm.Get("group"))
	client := strings.TrimSpace(r.PostForm.Get("client"))
	id := strings.TrimSpace(r.PostForm.Get("id"))
	var err error
	var res admin.DirectResult
	switch {
	case group == "" || client == "":
		err = badInput("choose a consumer group and one of its online members")
	case id == "":
		err = badInput("name the message by its offset message id")
	default:
		if _, _, perr := message.ParseOffsetMsgID(id); perr != nil {
			err = badInput("%q is not an offset message id", id)
		} else {
			res, err = c.be.ConsumeMessageDirectly(ctx, group, client, "", id)
		}
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "error", "messages", "Consume directly", nil, fmt.Errorf("consume directly by %s of %s: %w", client, group, err))
		return
	}
	flash := fmt.Sprintf("%s of %s answered %s in %d ms", client, group, res.Result, res.SpentMillis)
	if res.Remark != "" {
		flash += " (" + res.Remark + ")"
	}
	http.Redirect(w, r, "/message?"+encodeQuery(map[string][]string{"id": {id}, "group": {group}, "flash": {flash}}), http.StatusSeeOther)
}

// systemProps are dropped when a message is re-sent: they describe its
// earlier life (retries, delay, region, ids) and the broker sets them anew.
var systemProps = []string{message.PropertyUniqKey, message.PropertyRetryTopic, message.PropertyRealTopic,
	message.PropertyRealQueueID, message.PropertyDelayLevel, message.PropertyReconsumeTime, message.PropertyMaxReconsumeTimes,
	message.PropertyOriginMessageID, message.PropertyMsgRegion, message.PropertyTraceSwitch, message.PropertyMinOffset,
	message.PropertyMaxOffset, message.PropertyConsumeStartTime, message.PropertyDupInfo, message.PropertyTransactionPrepared,
	message.PropertyProducerGroup, message.PropertyWaitStoreMsgOK}

func (c *Console) resend(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	if c.cfg.Sender == nil {
		c.render(w, r, http.StatusOK, "error", "messages", "Re-send", nil, badInput("re-sending is not configured"))
		return
	}
	r.ParseForm()
	target := strings.TrimSpace(r.PostForm.Get("target"))
	err := validTopic(target)
	var m *message.MessageExt
	if err == nil {
		m, err = c.lookup(ctx, r.PostForm)
	}
	var id string
	if err == nil {
		out := m.ToMessage()
		out.Topic = target
		for _, k := range systemProps {
			out.RemoveProperty(k)
		}
		id, err = c.cfg.Sender.Send(ctx, out)
	}
	if err != nil {
		c.render(w, r, http.StatusOK, "error", "messages", "Re-send", nil, fmt.Errorf("re-send to %q: %w", target, err))
		return
	}
	http.Redirect(w, r, "/messages?"+encodeQuery(map[string][]string{"mode": {"id"}, "topic": {target}, "id": {id},
		"flash": {"re-sent to " + target + " as " + id}}), http.StatusSeeOther)
}

// lookup finds the message q names: id (offset message id), or topic,
// broker, queue and offset.
func (c *Console) lookup(ctx context.Context, q url.Values) (*message.MessageExt, error) {
	var m *message.MessageExt
	var err error
	switch {
	case q.Get("id") != "":
		m, err = c.be.MessageByID(ctx, q.Get("id"))
	case q.Get("topic") != "" && q.Get("broker") != "":
		qid, e1 := strconv.ParseInt(q.Get("queue"), 10, 32)
		off, e2 := strconv.ParseInt(q.Get("offset"), 10, 64)
		if e1 != nil || e2 != nil || qid < 0 || off < 0 {
			err = badInput("queue and offset must be non-negative numbers")
			break
		}
		m, err = c.be.MessageAtOffset(ctx, q.Get("topic"), q.Get("broker"), int32(qid), off)
	default:
		err = badInput("name a message: id, or topic, broker, queue and offset")
	}
	return m, err
}

func detailOf(m *message.MessageExt) messageData {
	d := messageData{Msg: m, OffsetID: m.OffsetMsgID(), Target: m.Topic}
	if t, ok := m.Property(message.PropertyRetryTopic); ok && t != "" {
		d.Target = t
	}
	props := m.Properties()
	for k, v := range props {
		d.Props = append(d.Props, [2]string{k, v})
	}
	slices.SortFunc(d.Props, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	body := m.Body
	if m.Err != nil {
		d.BodyErr = m.Err.Error()
		body = m.StoredBody()
	}
	if len(body) > bodyShown {
		body, d.BodyCapped = body[:bodyShown], true
	}
	d.TextValid = utf8.Valid(body)
	d.Text = strings.ToValidUTF8(string(body), "\uFFFD")
	d.Hex = hex.Dump(body)
	if json.Valid(body) {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			d.JSON = buf.String()
		}
	}
	return d
}
