package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// sampler records, every few seconds, each consumer group's total lag and
// each consumed topic's in/out rates (messages per second, from the change
// of the queues' broker and consumer offsets between samples), keeping a
// window (30 minutes by default) in memory. It needs one
// CONSUMER_PROGRESS round per group per sample and no per-topic calls, so a
// topic nobody consumes has no rate here (the Cluster page shows broker
// totals).
type sampler struct {
	be     Backend
	every  time.Duration
	keep   int // points per series
	groups int // at most this many groups are followed

	mu     sync.Mutex
	series map[string]*series // "lag/GROUP", "in/TOPIC", "out/TOPIC"
	last   map[string]int64   // previous offsets sums per "in/TOPIC|GROUP", "out/TOPIC|GROUP"
	lastAt time.Time

	stop chan struct{}
	done chan struct{}
}

// Series is one line of a chart: times (Unix ms) and values.
type Series struct {
	T []int64   `json:"t"`
	V []float64 `json:"v"`
}

type series = Series

func newSampler(be Backend, every, window time.Duration) *sampler {
	return &sampler{be: be, every: every, keep: max(2, int(window/every)), groups: 200,
		series: map[string]*series{}, last: map[string]int64{}}
}

func (s *sampler) start(timeout time.Duration) {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			s.sample(ctx, time.Now())
			cancel()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (s *sampler) close() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
}

// sample takes one reading at now; failures leave a gap rather than a
// misleading zero.
func (s *sampler) sample(ctx context.Context, now time.Time) {
	topics, err := s.be.Topics(ctx)
	if err != nil {
		return
	}
	var groups []string
	for _, t := range topics {
		if g, ok := strings.CutPrefix(t, "%RETRY%"); ok && g != "" {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	if len(groups) > s.groups {
		groups = groups[:s.groups]
	}
	lag := map[string]float64{}
	sums := map[string]int64{}
	for _, g := range groups {
		p, err := s.be.ConsumerProgress(ctx, g, "")
		if err != nil {
			continue
		}
		lag[g] = float64(p.TotalLag)
		for _, q := range p.Queues {
			if strings.HasPrefix(q.Topic, "%RETRY%") {
				continue
			}
			sums["in/"+q.Topic+"|"+g] += q.BrokerOffset
			sums["out/"+q.Topic+"|"+g] += q.ConsumerOffset
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := now.UnixMilli()
	for g, v := range lag {
		s.add("lag/"+g, ms, v)
	}
	if !s.lastAt.IsZero() {
		secs := now.Sub(s.lastAt).Seconds()
		in, out := map[string]float64{}, map[string]float64{}
		for k, v := range sums {
			prev, ok := s.last[k]
			if !ok || v < prev || secs <= 0 {
				continue
			}
			name, _, _ := strings.Cut(k, "|")
			rate := float64(v-prev) / secs
			if strings.HasPrefix(name, "in/") {
				// Every group sees the same broker offsets: take one.
				in[name] = max(in[name], rate)
			} else {
				out[name] += rate
			}
		}
		for k, v := range in {
			s.add(k, ms, v)
		}
		for k, v := range out {
			s.add(k, ms, v)
		}
	}
	s.last, s.lastAt = sums, now
}

func (s *sampler) add(name string, t int64, v float64) {
	sr := s.series[name]
	if sr == nil {
		sr = &series{}
		s.series[name] = sr
	}
	sr.T = append(sr.T, t)
	sr.V = append(sr.V, v)
	if n := len(sr.T) - s.keep; n > 0 {
		sr.T = slices.Delete(sr.T, 0, n)
		sr.V = slices.Delete(sr.V, 0, n)
	}
}

// snapshot copies the series whose names start with prefix.
func (s *sampler) snapshot(prefix string) map[string]Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Series{}
	for k, v := range s.series {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			out[name] = Series{T: slices.Clone(v.T), V: slices.Clone(v.V)}
		}
	}
	return out
}

func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	var err error
	if c.sampler == nil {
		err = badInput("live charts are off (Config.SampleEvery is 0)")
	}
	c.render(w, r, http.StatusOK, "live", "live", "Live", nil, err)
}

func (c *Console) liveJSON(w http.ResponseWriter, r *http.Request) {
	data := map[string]map[string]Series{}
	if c.sampler != nil {
		for _, k := range []string{"in", "out", "lag"} {
			data[k] = c.sampler.snapshot(k + "/")
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(data)
}
