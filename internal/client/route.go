package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/selector"
)

// TopicInfo is the cached view of one topic's route. It is immutable once
// published: a refresh replaces it, so callers may keep and share it, and
// must not modify its slices.
type TopicInfo struct {
	Topic string
	Route *wire.TopicRoute
	// Publish lists the writable queues of brokers with a master, in route
	// order (brokers sorted by name); when the route carries an
	// orderTopicConf it is built from that alone, as producers must.
	Publish []selector.Queue
	// Subscribe lists the readable queues of every broker in the route.
	Subscribe []selector.Queue
	// FromDefault is set when the topic has no route of its own and Publish
	// was built from the TBW102 template (min(4, its write queues) per
	// broker); the broker creates the topic on the first send.
	FromDefault bool
	// Updated is when the route was read.
	Updated time.Time
}

// routeCache holds TopicInfos in a copy-on-write map so that the per-send
// lookup is one atomic load and a map read, with no lock for concurrent
// senders to contend on.
type routeCache struct {
	topics atomic.Pointer[map[string]*TopicInfo]
	// brokers maps broker name to its addresses (id → addr), merged from
	// every cached route.
	brokers atomic.Pointer[map[string]map[int64]string]

	mu      sync.Mutex // serialises writers of topics and brokers
	flights map[string]*flight
	watchID int
	watches map[int]func(*TopicInfo)
}

// flight de-duplicates concurrent first lookups of one topic.
type flight struct {
	done chan struct{}
	info *TopicInfo
	err  error
}

func (rc *routeCache) init() {
	t := map[string]*TopicInfo{}
	b := map[string]map[int64]string{}
	rc.topics.Store(&t)
	rc.brokers.Store(&b)
	rc.flights = map[string]*flight{}
	rc.watches = map[int]func(*TopicInfo){}
}

func (rc *routeCache) get(topic string) *TopicInfo { return (*rc.topics.Load())[topic] }

// put stores info (nil deletes) and recomputes the broker table; it reports
// whether the set of broker addresses changed and returns the watchers to
// notify.
func (rc *routeCache) put(topic string, info *TopicInfo) (brokersChanged bool, watchers []func(*TopicInfo)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	old := *rc.topics.Load()
	next := make(map[string]*TopicInfo, len(old)+1)
	maps.Copy(next, old)
	if info == nil {
		delete(next, topic)
	} else {
		next[topic] = info
	}
	rc.topics.Store(&next)

	brokers := map[string]map[int64]string{}
	for _, ti := range next {
		for _, bd := range ti.Route.BrokerDatas {
			m := brokers[bd.BrokerName]
			if m == nil {
				m = map[int64]string{}
				brokers[bd.BrokerName] = m
			}
			maps.Copy(m, bd.BrokerAddrs)
		}
	}
	prev := *rc.brokers.Load()
	changed := len(prev) != len(brokers)
	for name, addrs := range brokers {
		if !maps.Equal(prev[name], addrs) {
			changed = true
		}
	}
	rc.brokers.Store(&brokers)
	if info != nil {
		for _, w := range rc.watches {
			watchers = append(watchers, w)
		}
	}
	return changed, watchers
}

// brokerAddrs lists distinct broker addresses: masters only, or all.
func (rc *routeCache) brokerAddrs(mastersOnly bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, addrs := range *rc.brokers.Load() {
		for id, a := range addrs {
			if (mastersOnly && id != wire.MasterID) || a == "" || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// buildTopicInfo derives the queue lists of topic from route.
func buildTopicInfo(topic string, route *wire.TopicRoute, fromDefault bool) *TopicInfo {
	ti := &TopicInfo{Topic: topic, Route: route, FromDefault: fromDefault, Updated: time.Now()}
	hasMaster := func(name string) bool {
		b := route.Broker(name)
		return b != nil && b.MasterAddr() != ""
	}
	if route.OrderTopicConf != "" && !fromDefault {
		for _, part := range strings.Split(route.OrderTopicConf, ";") {
			name, n, ok := strings.Cut(strings.TrimSpace(part), ":")
			if !ok {
				continue
			}
			nq, err := strconv.Atoi(strings.TrimSpace(n))
			// Counts outside a route's bounds are skipped like unreadable
			// ones: one entry of "b:2147483647" must not exhaust memory.
			if err != nil || nq < 0 || nq > wire.MaxQueueNums || len(ti.Publish)+nq > wire.MaxRouteQueues {
				continue
			}
			for q := 0; q < nq; q++ {
				ti.Publish = append(ti.Publish, selector.Queue{Topic: topic, BrokerName: name, QueueID: q})
			}
		}
	} else {
		qds := slices.Clone(route.QueueDatas)
		slices.SortFunc(qds, func(a, b wire.QueueData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
		for _, qd := range qds {
			if !qd.Writable() || !hasMaster(qd.BrokerName) {
				continue
			}
			n := int(qd.WriteQueueNums)
			if fromDefault {
				n = min(n, DefaultTopicQueueNums)
			}
			for q := 0; q < n; q++ {
				ti.Publish = append(ti.Publish, selector.Queue{Topic: topic, BrokerName: qd.BrokerName, QueueID: q})
			}
		}
	}
	if !fromDefault {
		qds := slices.Clone(route.QueueDatas)
		slices.SortFunc(qds, func(a, b wire.QueueData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
		for _, qd := range qds {
			if !qd.Readable() {
				continue
			}
			for q := 0; q < int(qd.ReadQueueNums); q++ {
				ti.Subscribe = append(ti.Subscribe, selector.Queue{Topic: topic, BrokerName: qd.BrokerName, QueueID: q})
			}
		}
	}
	return ti
}

// Route returns the cached route of topic, fetching it on first use (one
// fetch however many goroutines ask at once). A topic unknown to the name
// servers fails with an error matching ErrTopicNotExist. Cached topics are
// refreshed every route-refresh interval.
func (c *Client) Route(ctx context.Context, topic string) (*TopicInfo, error) {
	if ti := c.routes.get(topic); ti != nil && !ti.FromDefault {
		return ti, nil
	}
	return c.fetch(ctx, topic, false)
}

// PublishInfo is Route for producers: a topic without a route of its own
// falls back to the TBW102 template (as upstream
// MQClientInstance.updateTopicRouteInfoFromNameServer), and the result must
// have at least one publishable queue or the call fails with ErrNoRoute.
func (c *Client) PublishInfo(ctx context.Context, topic string) (*TopicInfo, error) {
	ti := c.routes.get(topic)
	if ti == nil || len(ti.Publish) == 0 {
		// Unknown, or cached while its broker had no master (a failover
		// in progress): ask the name servers rather than fail from cache.
		var err error
		if ti, err = c.fetch(ctx, topic, true); err != nil {
			return nil, err
		}
	}
	if len(ti.Publish) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no writable queue on a master", ErrNoRoute, topic)
	}
	return ti, nil
}

// PublishQueues returns PublishInfo's queue list. The slice is shared: do
// not modify it.
func (c *Client) PublishQueues(ctx context.Context, topic string) ([]selector.Queue, error) {
	ti, err := c.PublishInfo(ctx, topic)
	if err != nil {
		return nil, err
	}
	return ti.Publish, nil
}

// SubscribeQueues returns the readable queues of topic (no TBW102
// fallback). The slice is shared: do not modify it.
func (c *Client) SubscribeQueues(ctx context.Context, topic string) ([]selector.Queue, error) {
	ti, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	if len(ti.Subscribe) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no readable queue", ErrNoRoute, topic)
	}
	return ti.Subscribe, nil
}

// RefreshRoute re-reads topic's route now, bypassing the cache (for
// example after a send failed with TOPIC_NOT_EXIST). With allowDefault a
// missing topic falls back to TBW102 as in PublishInfo.
func (c *Client) RefreshRoute(ctx context.Context, topic string, allowDefault bool) (*TopicInfo, error) {
	return c.fetch(ctx, topic, allowDefault)
}

// ForgetTopic drops topic from the cache, so it is no longer refreshed.
func (c *Client) ForgetTopic(topic string) { c.routes.put(topic, nil) }

// Topics lists the cached topics.
func (c *Client) Topics() []string {
	return slices.Sorted(maps.Keys(*c.routes.topics.Load()))
}

// WatchRoutes calls fn (on the refreshing goroutine) every time a topic's
// route is stored, including unchanged refreshes; fn must be quick. The
// returned function removes the watch.
func (c *Client) WatchRoutes(fn func(*TopicInfo)) (stop func()) {
	rc := &c.routes
	rc.mu.Lock()
	rc.watchID++
	id := rc.watchID
	rc.watches[id] = fn
	rc.mu.Unlock()
	return func() {
		rc.mu.Lock()
		delete(rc.watches, id)
		rc.mu.Unlock()
	}
}

// fetch reads topic's route from the name servers (de-duplicated per
// topic) and caches it.
func (c *Client) fetch(ctx context.Context, topic string, allowDefault bool) (*TopicInfo, error) {
	if c.isClosed.Load() {
		return nil, ErrClosed
	}
	key := topic
	if allowDefault {
		key = "\x00" + topic // a different flight: its result may differ
	}
	rc := &c.routes
	rc.mu.Lock()
	if f := rc.flights[key]; f != nil {
		rc.mu.Unlock()
		select {
		case <-f.done:
			return f.info, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	rc.flights[key] = f
	rc.mu.Unlock()

	f.info, f.err = c.load(ctx, topic, allowDefault)
	rc.mu.Lock()
	delete(rc.flights, key)
	rc.mu.Unlock()
	close(f.done)
	return f.info, f.err
}

// load does one route lookup and stores the result.
func (c *Client) load(ctx context.Context, topic string, allowDefault bool) (*TopicInfo, error) {
	ns, err := c.nameServer(ctx, false)
	if err != nil {
		return nil, err
	}
	route, err := ns.Route(ctx, topic)
	fromDefault := false
	if err != nil && allowDefault && errors.Is(err, nsclient.ErrTopicNotExist) && topic != DefaultTopic {
		fromDefault = true
		route, err = ns.Route(ctx, DefaultTopic)
	}
	if err != nil {
		return nil, err
	}
	ti := buildTopicInfo(topic, route, fromDefault)
	c.store(ti)
	return ti, nil
}

// store caches ti, notifies watchers and, when the broker set changed and
// groups are registered, asks for a heartbeat so new brokers learn about
// this client at once.
func (c *Client) store(ti *TopicInfo) {
	if old := c.routes.get(ti.Topic); old != nil && !routeBrokersEqual(old.Route, ti.Route) {
		c.logger.Info("client: route changed", "topic", ti.Topic, "brokers", brokerNames(ti.Route))
	}
	changed, watchers := c.routes.put(ti.Topic, ti)
	for _, w := range watchers {
		w(ti)
	}
	if changed {
		c.TriggerHeartbeat()
	}
}

func brokerNames(r *wire.TopicRoute) []string {
	var out []string
	for _, b := range r.BrokerDatas {
		out = append(out, b.BrokerName)
	}
	return out
}

func routeBrokersEqual(a, b *wire.TopicRoute) bool {
	if len(a.BrokerDatas) != len(b.BrokerDatas) {
		return false
	}
	for i := range a.BrokerDatas {
		if a.BrokerDatas[i].BrokerName != b.BrokerDatas[i].BrokerName || !maps.Equal(a.BrokerDatas[i].BrokerAddrs, b.BrokerDatas[i].BrokerAddrs) {
			return false
		}
	}
	return true
}

// refreshAll re-reads every cached topic's route. A topic that has
// disappeared keeps its last route (the name server may be briefly empty
// after a restart), as the Java client does.
func (c *Client) refreshAll(ctx context.Context) {
	if c.cfg.resolver != nil {
		if _, err := c.nameServer(ctx, true); err != nil {
			c.logger.Warn("client: resolve name servers", "err", err)
		}
	}
	for _, topic := range c.Topics() {
		if ctx.Err() != nil {
			return
		}
		old := c.routes.get(topic)
		if old == nil {
			continue
		}
		if _, err := c.fetch(ctx, topic, old.FromDefault); err != nil {
			c.logger.Debug("client: route refresh failed", "topic", topic, "err", err)
		}
	}
}

// followUpRefresh is how long after a master-change notice the routes are
// read once more: the notice can arrive before the new master's
// registration reaches the name servers.
const followUpRefresh = time.Second

func (c *Client) refreshLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.routeRefresh)
	defer t.Stop()
	followUp := time.NewTimer(time.Hour)
	followUp.Stop()
	defer followUp.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.refreshNow:
			followUp.Reset(followUpRefresh)
		case <-followUp.C:
		}
		c.refreshAll(c.ctx)
	}
}

// RefreshSoon asks for every cached route to be read again now, not at the
// next poll; requests coalesce. Producers call it when a send fails in a
// way a new master explains (connection refused, a slave refusing writes).
func (c *Client) RefreshSoon() {
	select {
	case c.refreshNow <- struct{}{}:
	default:
	}
}

// ---------------------------------------------------------------------------
// Broker addresses

// MasterAddr returns the master address of brokerName from the cached
// routes, or "" when unknown or masterless.
func (c *Client) MasterAddr(brokerName string) string {
	return (*c.routes.brokers.Load())[brokerName][wire.MasterID]
}

// BrokerAddr returns the master address of brokerName, or when it has no
// master the lowest-numbered slave's (fine for reads), or "".
func (c *Client) BrokerAddr(brokerName string) string {
	addrs := (*c.routes.brokers.Load())[brokerName]
	if a := addrs[wire.MasterID]; a != "" {
		return a
	}
	if len(addrs) == 0 {
		return ""
	}
	return addrs[slices.Min(slices.Collect(maps.Keys(addrs)))]
}

// BrokerAddrByID returns the address of brokerName's broker id, or "".
func (c *Client) BrokerAddrByID(brokerName string, id int64) string {
	return (*c.routes.brokers.Load())[brokerName][id]
}

// BrokerAddrs returns every known address of brokerName by broker id (a
// copy).
func (c *Client) BrokerAddrs(brokerName string) map[int64]string {
	return maps.Clone((*c.routes.brokers.Load())[brokerName])
}

// BrokerNameOf returns the name of the broker group listening at addr, or
// "".
func (c *Client) BrokerNameOf(addr string) string {
	for name, addrs := range *c.routes.brokers.Load() {
		for _, a := range addrs {
			if a == addr {
				return name
			}
		}
	}
	return ""
}

// ConsumerIDs asks one broker of topic for the client ids in group
// (GET_CONSUMER_LIST_BY_GROUP). The broker is picked at random among those
// of the topic's route, like the Java client, and the list comes back
// sorted.
func (c *Client) ConsumerIDs(ctx context.Context, topic, group string) ([]string, error) {
	ti, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	bds := ti.Route.BrokerDatas
	if len(bds) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no broker", ErrNoRoute, topic)
	}
	start := rand.IntN(len(bds))
	var lastErr error
	for i := range bds {
		bd := &bds[(start+i)%len(bds)]
		addr := bd.SelectAddr()
		if addr == "" {
			continue
		}
		resp, err := c.Invoke(ctx, addr, remoting.NewRequest(remoting.GetConsumerListByGroup,
			&remoting.GetConsumerListByGroupRequestHeader{ConsumerGroup: group}, nil))
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if resp.Code != remoting.Success {
			return nil, remoting.NewResponseError(remoting.GetConsumerListByGroup, addr, resp)
		}
		var body wire.ConsumerListBody
		if err := jsonUnmarshal(resp.Body, &body); err != nil {
			return nil, fmt.Errorf("client: consumer list from %s: %w", addr, err)
		}
		slices.Sort(body.ConsumerIDList)
		return body.ConsumerIDList, nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: no broker address for topic %q", ErrNoRoute, topic)
	}
	return nil, lastErr
}
