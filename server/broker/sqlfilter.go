package broker

import (
	"encoding/json"
	"sync"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/filter"
)

// SQL92 subscriptions select messages by their properties. Like upstream,
// the broker evaluates them only with enablePropertyFilter=true; every
// expression is compiled once and shared by the pulls that use it.

// maxCachedExprs bounds the compiled-expression cache: expressions come
// from clients, so an unbounded map would let them grow the broker's heap.
const maxCachedExprs = 4096

// exprCache maps SQL92 expression texts to their compiled form.
type exprCache struct {
	mu    sync.Mutex // guards exprs
	exprs map[string]*filter.Expr
}

func (c *exprCache) compile(text string) (*filter.Expr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.exprs[text]; ok {
		return e, nil
	}
	e, err := filter.Compile(text)
	if err != nil {
		return nil, err
	}
	if c.exprs == nil || len(c.exprs) >= maxCachedExprs {
		c.exprs = make(map[string]*filter.Expr) // start over rather than track recency
	}
	c.exprs[text] = e
	return e, nil
}

// compileSubscription checks that the broker can evaluate sub and returns
// its compiled SQL92 expression (nil for tag subscriptions), or the
// response code and remark upstream answers a pull or a client check with.
func (b *Broker) compileSubscription(sub *wire.SubscriptionData) (*filter.Expr, int16, string) {
	switch sub.ExpressionType {
	case "", wire.ExpressionTag:
		return nil, remoting.Success, ""
	case wire.ExpressionSQL92:
		if !b.live.propertyFilter.Load() {
			break
		}
		e, err := b.sqlExprs.compile(sub.SubString)
		if err != nil {
			return nil, remoting.SubscriptionParseFailed, "parse the consumer's subscription failed: " + err.Error()
		}
		return e, remoting.Success, ""
	}
	return nil, remoting.SystemError, "The broker does not support consumer to filter message by " + sub.ExpressionType
}

// checkClientConfigBody is CHECK_CLIENT_CONFIG's body, which Java clients
// send before starting a consumer with a SQL92 subscription.
type checkClientConfigBody struct {
	ClientID         string                `json:"clientId"`
	Group            string                `json:"group"`
	SubscriptionData wire.SubscriptionData `json:"subscriptionData"`
}

// processCheckClientConfig tells a client up front whether its
// subscription can be served, with the code a pull would fail with.
func (b *Broker) processCheckClientConfig(rc *transport.RequestContext, req *remoting.Command) {
	var body checkClientConfigBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		reply(rc, req, remoting.SystemError, "bad CHECK_CLIENT_CONFIG body: "+err.Error())
		return
	}
	_, code, remark := b.compileSubscription(&body.SubscriptionData)
	reply(rc, req, code, remark)
}
