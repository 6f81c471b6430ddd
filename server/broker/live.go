package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// liveConfig holds the broker.conf keys UPDATE_BROKER_CONFIG may change
// while the broker runs. The send and pull paths read them, so each is an
// atomic. Every other key is fixed at start: the store, the listeners and
// the loops are built from it, and changing it takes an edit of broker.conf
// and a restart (the update says so instead of pretending).
type liveConfig struct {
	brokerPermission atomic.Int32
	autoCreateTopic  atomic.Bool
	autoCreateGroup  atomic.Bool
	maxMessageSize   atomic.Int64
	longPolling      atomic.Bool
	shortPolling     atomic.Int64 // nanoseconds
	propertyFilter   atomic.Bool
	storeReply       atomic.Bool
	slaveRead        atomic.Bool

	mu      sync.Mutex // serialises updates and guards version
	version wire.DataVersion
}

// liveKeys are the keys of liveConfig, in broker.conf spelling.
var liveKeys = [...]string{"brokerPermission", "autoCreateTopicEnable", "autoCreateSubscriptionGroup", "maxMessageSize",
	"longPollingEnable", "shortPollingTimeMills", "enablePropertyFilter", "storeReplyMessageEnable", "slaveReadEnable"}

// configBlackList are keys upstream never lets UPDATE_BROKER_CONFIG touch.
var configBlackList = [...]string{"configBlackList", "brokerConfigPath"}

// ErrConfigBlackListed is returned for an update of a black-listed key.
var ErrConfigBlackListed = errors.New("broker: setting is black-listed for updates")

func (l *liveConfig) load(c *Config, now time.Time) {
	l.brokerPermission.Store(int32(c.BrokerPermission))
	l.autoCreateTopic.Store(c.AutoCreateTopicEnable)
	l.autoCreateGroup.Store(c.AutoCreateSubscriptionGroup)
	l.maxMessageSize.Store(int64(c.MaxMessageSize))
	l.longPolling.Store(c.LongPollingEnable)
	l.shortPolling.Store(int64(c.ShortPollingTimeMills))
	l.propertyFilter.Store(c.EnablePropertyFilter)
	l.storeReply.Store(c.StoreReplyMessage)
	l.slaveRead.Store(c.SlaveReadEnable)
	bumpVersion(&l.version, now)
}

// overlay writes the live values into c.
func (l *liveConfig) overlay(c *Config) {
	c.BrokerPermission = int(l.brokerPermission.Load())
	c.AutoCreateTopicEnable = l.autoCreateTopic.Load()
	c.AutoCreateSubscriptionGroup = l.autoCreateGroup.Load()
	c.MaxMessageSize = int(l.maxMessageSize.Load())
	c.LongPollingEnable = l.longPolling.Load()
	c.ShortPollingTimeMills = time.Duration(l.shortPolling.Load())
	c.EnablePropertyFilter = l.propertyFilter.Load()
	c.StoreReplyMessage = l.storeReply.Load()
	c.SlaveReadEnable = l.slaveRead.Load()
}

// Config returns the configuration the broker runs with, including the
// changes UPDATE_BROKER_CONFIG made.
func (b *Broker) Config() Config {
	c := b.cfg
	b.live.overlay(&c)
	return c
}

// Properties is every broker.conf key with its current value.
func (c *Config) Properties() map[string]string {
	m := map[string]string{}
	for _, k := range configKeys() {
		m[k.name] = k.get(c)
	}
	return m
}

// UpdateConfig applies broker.conf settings while the broker runs: all of
// them or, when one is unknown, fixed at start, black-listed or invalid,
// none. It returns the keys whose value changed.
func (b *Broker) UpdateConfig(settings map[string]string) ([]string, error) {
	b.live.mu.Lock()
	defer b.live.mu.Unlock()
	next := b.Config()
	var changed []string
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range settings {
			if !yield(k) {
				return
			}
		}
	})
	for _, key := range keys {
		value := settings[key]
		if slices.Contains(configBlackList[:], key) {
			return nil, fmt.Errorf("%w: %s", ErrConfigBlackListed, key)
		}
		before, known := next.Get(key)
		if !known {
			return nil, fmt.Errorf("%w: unknown broker setting %q", ErrInvalidConfig, key)
		}
		if _, err := next.Set(key, value); err != nil {
			return nil, err
		}
		after, _ := next.Get(key)
		if after == before {
			continue
		}
		if !slices.Contains(liveKeys[:], key) {
			return nil, fmt.Errorf("%w: %s is fixed while the broker runs; set it in broker.conf and restart (changeable now: %s)",
				ErrInvalidConfig, key, strings.Join(liveKeys[:], ", "))
		}
		changed = append(changed, key)
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if next.MaxMessageSize > b.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: maxMessageSize can only be lowered while the broker runs (the store was opened for %d)",
			ErrInvalidConfig, b.cfg.MaxMessageSize)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	l := &b.live
	permChanged := int(l.brokerPermission.Load()) != next.BrokerPermission
	l.brokerPermission.Store(int32(next.BrokerPermission))
	l.autoCreateTopic.Store(next.AutoCreateTopicEnable)
	l.autoCreateGroup.Store(next.AutoCreateSubscriptionGroup)
	l.maxMessageSize.Store(int64(next.MaxMessageSize))
	l.longPolling.Store(next.LongPollingEnable)
	l.shortPolling.Store(int64(next.ShortPollingTimeMills))
	l.propertyFilter.Store(next.EnablePropertyFilter)
	l.storeReply.Store(next.StoreReplyMessage)
	l.slaveRead.Store(next.SlaveReadEnable)
	bumpVersion(&l.version, b.clock())
	b.log.Info("broker configuration updated", "keys", changed)
	if permChanged {
		// Name servers hand out the permission with every route.
		b.topics.touch()
		b.requestRegister()
	}
	return changed, nil
}

// configVersion is the data version of the configuration as JSON.
func (b *Broker) configVersion() string {
	b.live.mu.Lock()
	v := b.live.version
	b.live.mu.Unlock()
	j, _ := json.Marshal(v)
	return string(j)
}

// GET_BROKER_CONFIG: every key as properties text, and the data version.
func (b *Broker) processGetBrokerConfig(rc *transport.RequestContext, req *remoting.Command) {
	cfg := b.Config()
	body := properties.Format(cfg.Properties())
	replyHeader(rc, req, &remoting.GetBrokerConfigResponseHeader{Version: b.configVersion()}, []byte(body))
}

// UPDATE_BROKER_CONFIG: the body is properties text with the keys to set.
func (b *Broker) processUpdateBrokerConfig(rc *transport.RequestContext, req *remoting.Command) {
	settings, err := properties.Map(strings.NewReader(string(req.Body)))
	if err != nil {
		reply(rc, req, remoting.InvalidParameter, err.Error())
		return
	}
	if len(settings) == 0 {
		reply(rc, req, remoting.InvalidParameter, "no settings in the request body")
		return
	}
	b.log.Info("update broker config requested", "remote", rc.Conn().RemoteAddr().String(), "settings", settings)
	if _, err := b.UpdateConfig(settings); err != nil {
		code := remoting.InvalidParameter
		if errors.Is(err, ErrConfigBlackListed) {
			code = remoting.NoPermission
		}
		reply(rc, req, code, err.Error())
		return
	}
	reply(rc, req, remoting.Success, "")
}
