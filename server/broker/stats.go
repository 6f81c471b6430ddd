package broker

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/cowmap"
)

// brokerStats are the broker's own running figures, always on, that admin
// tools read through GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO and
// GET_CONSUME_STATS (upstream's StoreStatsService, BrokerStats and
// BrokerStatsManager): message totals since start and since midnight, TPS
// over 10 s / 1 min / 10 min, the put-latency distribution of the last
// minute, and per-topic and per-group rates. Recording is atomic adds on
// copy-on-write tables, so the send and pull paths take no lock; a
// sampling loop (sample, every statsSampleInterval) turns the totals into
// rates.
type brokerStats struct {
	putMsgs, putBytes, putFailed atomic.Int64
	getMsgs, getFound, getMiss   atomic.Int64
	putMaxMillis                 atomic.Int64
	sendBusy                     atomic.Int64 // sends answered SYSTEM_BUSY by overload protection

	dist     atomic.Pointer[latencyBuckets] // the minute being recorded
	lastDist atomic.Pointer[latencyBuckets] // the last complete minute

	topics cowmap.Map[string, rateCounter]     // puts per topic
	groups cowmap.Map[groupTopic, rateCounter] // gets per consumer group and topic

	mu         sync.Mutex // guards everything below; held by sample and readers
	history    [statsHistory]totals
	filled     int // samples in history
	head       int // index of the newest sample
	day        int // yyyymmdd of the newest sample, local time
	lastRotate time.Time
	// Totals at the last two midnights (0 until the broker saw one).
	putYesterdayMorning, putTodayMorning int64
	getYesterdayMorning, getTodayMorning int64
}

// Sampling: every 10 s, keeping 10 minutes, as upstream's 10/60/600 s TPS.
const (
	statsSampleInterval = 10 * time.Second
	statsHistory        = 61
	rateSamples         = 7 // a per-topic counter keeps one minute
)

// totals is one sample of the broker-wide counters.
type totals struct {
	at                             time.Time
	put, getTransferred, got, miss int64
}

type groupTopic struct{ group, topic string }

// rateCounter counts one topic's puts or one group's gets on a topic.
// samples is written by sample only, under brokerStats.mu.
type rateCounter struct {
	msgs, bytes atomic.Int64
	samples     [rateSamples]int64 // newest first
	taken       int                // samples taken since the counter was created
}

// putLatencyRanges are upstream's putMessageDistributeTime buckets (ms):
// ≤0, then below 10, 50, 100, 200, 500 ms, 1, 2, 3, 4, 5, 10 s, and above.
var putLatencyRanges = [...]string{"[<=0ms]", "[0~10ms]", "[10~50ms]", "[50~100ms]", "[100~200ms]", "[200~500ms]",
	"[500ms~1s]", "[1~2s]", "[2~3s]", "[3~4s]", "[4~5s]", "[5~10s]", "[10s~]"}

type latencyBuckets [len(putLatencyRanges)]atomic.Int64

func latencyBucket(ms int64) int {
	for i, limit := range [...]int64{0, 10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000} {
		if i == 0 && ms <= 0 || i > 0 && ms < limit {
			return i
		}
	}
	return len(putLatencyRanges) - 1
}

func newBrokerStats(now time.Time) *brokerStats {
	s := &brokerStats{day: dayOf(now), lastRotate: now}
	s.dist.Store(new(latencyBuckets))
	s.history[0] = totals{at: now}
	s.filled = 1
	return s
}

func dayOf(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// put records msgs stored for topic in one append that took elapsed.
func (s *brokerStats) put(topic string, msgs, bytes int, elapsed time.Duration) {
	s.putMsgs.Add(int64(msgs))
	s.putBytes.Add(int64(bytes))
	c := s.topics.GetOrCreate(topic, nil)
	c.msgs.Add(int64(msgs))
	c.bytes.Add(int64(bytes))
	ms := elapsed.Milliseconds()
	s.dist.Load()[latencyBucket(ms)].Add(1)
	for {
		cur := s.putMaxMillis.Load()
		if ms <= cur || s.putMaxMillis.CompareAndSwap(cur, ms) {
			break
		}
	}
}

// putFailure records an append the store refused.
func (s *brokerStats) putFailure() { s.putFailed.Add(1) }

// sendShed counts a send answered SYSTEM_BUSY without being stored.
func (s *brokerStats) sendShed() { s.sendBusy.Add(1) }

// pulled records one pull's outcome: msgs delivered to group from topic.
func (s *brokerStats) pulled(group, topic string, msgs, bytes int) {
	if msgs == 0 {
		s.getMiss.Add(1)
		return
	}
	s.getFound.Add(1)
	s.getMsgs.Add(int64(msgs))
	c := s.groups.GetOrCreate(groupTopic{group, topic}, nil)
	c.msgs.Add(int64(msgs))
	c.bytes.Add(int64(bytes))
}

// forgetTopic drops a deleted topic's counters.
func (s *brokerStats) forgetTopic(topic string) {
	s.topics.DeleteFunc(func(t string, _ *rateCounter) bool { return t == topic })
	s.groups.DeleteFunc(func(k groupTopic, _ *rateCounter) bool { return k.topic == topic })
}

// sample takes one sample at now: history for the broker-wide rates, one
// slot for every per-topic and per-group counter, the midnight totals when
// the day changed, and a new latency minute once one has passed.
func (s *brokerStats) sample(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := totals{at: now, put: s.putMsgs.Load(), getTransferred: s.getMsgs.Load(), got: s.getFound.Load(), miss: s.getMiss.Load()}
	s.head = (s.head + 1) % statsHistory
	s.history[s.head] = cur
	s.filled = min(s.filled+1, statsHistory)
	s.topics.Range(func(_ string, c *rateCounter) bool { c.slot(); return true })
	s.groups.Range(func(_ groupTopic, c *rateCounter) bool { c.slot(); return true })
	if d := dayOf(now); d != s.day {
		s.day = d
		s.putYesterdayMorning, s.putTodayMorning = s.putTodayMorning, cur.put
		s.getYesterdayMorning, s.getTodayMorning = s.getTodayMorning, cur.getTransferred
	}
	if now.Sub(s.lastRotate) >= time.Minute {
		s.lastRotate = now
		s.lastDist.Store(s.dist.Swap(new(latencyBuckets)))
	}
}

// tps is the rate of one total over the last window, from the samples;
// 0 until two samples span it.
func (s *brokerStats) tps(window time.Duration, pick func(totals) int64) float64 {
	newest := s.history[s.head]
	steps := int(window / statsSampleInterval)
	if steps >= s.filled {
		steps = s.filled - 1
	}
	if steps <= 0 {
		return 0
	}
	old := s.history[(s.head-steps+statsHistory)%statsHistory]
	dt := newest.at.Sub(old.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(pick(newest)-pick(old)) / dt
}

// tpsTriple is upstream's "10s 60s 600s" TPS string.
func (s *brokerStats) tpsTriple(pick func(totals) int64) string {
	return fmt.Sprintf("%.2f %.2f %.2f", s.tps(10*time.Second, pick), s.tps(time.Minute, pick), s.tps(10*time.Minute, pick))
}

func (c *rateCounter) slot() {
	copy(c.samples[1:], c.samples[:rateSamples-1])
	c.samples[0] = c.msgs.Load()
	c.taken++
}

// counterTPS is a per-topic or per-group rate over the last minute, or
// over what the samples cover so far: a counter is created by its first
// message, so it counts as zero one interval before its first sample.
func counterTPS(c *rateCounter) float64 {
	if c == nil || c.taken == 0 {
		return 0
	}
	n := min(c.taken, rateSamples-1)
	return float64(c.samples[0]-c.samples[n]) / (float64(n) * statsSampleInterval.Seconds())
}

func (s *brokerStats) topicPutTPS(topic string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counterTPS(s.topics.Get(topic))
}

func (s *brokerStats) groupGetTPS(group, topic string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counterTPS(s.groups.Get(groupTopic{group, topic}))
}

// distribution is upstream's putMessageDistributeTime text for the last
// complete minute (the current one before a minute has passed).
func (s *brokerStats) distribution() string {
	d := s.lastDist.Load()
	if d == nil {
		d = s.dist.Load()
	}
	var b strings.Builder
	for i, name := range putLatencyRanges {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(d[i].Load(), 10))
		b.WriteByte(' ')
	}
	return b.String()
}

// runtimeInfo adds the figures of GET_BROKER_RUNTIME_INFO that come from
// the counters, with upstream's keys and formats.
func (s *brokerStats) runtimeInfo(table map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	put, get := s.putMsgs.Load(), s.getMsgs.Load()
	table["msgPutTotalYesterdayMorning"] = i64(s.putYesterdayMorning)
	table["msgPutTotalTodayMorning"] = i64(s.putTodayMorning)
	table["msgPutTotalTodayNow"] = i64(put)
	table["msgGetTotalYesterdayMorning"] = i64(s.getYesterdayMorning)
	table["msgGetTotalTodayMorning"] = i64(s.getTodayMorning)
	table["msgGetTotalTodayNow"] = i64(get)
	// Upstream divides by at least 1 and reports the divisor as the total.
	times := max(put, 1)
	table["putMessageTimesTotal"] = i64(times)
	table["putMessageSizeTotal"] = i64(s.putBytes.Load())
	table["putMessageAverageSize"] = strconv.FormatFloat(float64(s.putBytes.Load())/float64(times), 'f', -1, 64)
	table["putMessageFailedTimes"] = i64(s.putFailed.Load())
	table["putMessageEntireTimeMax"] = i64(s.putMaxMillis.Load())
	table["putMessageDistributeTime"] = s.distribution()
	table["putTps"] = s.tpsTriple(func(t totals) int64 { return t.put })
	table["getFoundTps"] = s.tpsTriple(func(t totals) int64 { return t.got })
	table["getMissTps"] = s.tpsTriple(func(t totals) int64 { return t.miss })
	table["getTotalTps"] = s.tpsTriple(func(t totals) int64 { return t.got + t.miss })
	transferred := s.tpsTriple(func(t totals) int64 { return t.getTransferred })
	table["getTransferredTps"] = transferred
	table["getTransferedTps"] = transferred // 4.x tools read this spelling
}

// formatRuntime is upstream's "[ d days, h hours, m minutes, s seconds ]".
func formatRuntime(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("[ %d days, %d hours, %d minutes, %d seconds ]", s/86400, s%86400/3600, s%3600/60, s%60)
}

// humanBytes is upstream's MixAll.humanReadableByteCount with binary units:
// "512 B", "1.5 KiB", "3.0 GiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := "KMGTPE"
	v, exp := float64(n), 0
	for v >= 1024 && exp < len(units) {
		v /= 1024
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[exp-1])
}
