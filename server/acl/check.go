package acl

import (
	"encoding/json"
	"errors"
	"net"
	"strings"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// ErrDenied is wrapped by every refusal (errors.Is(err, acl.ErrDenied)).
var ErrDenied = errors.New("acl: access denied")

// DeniedError is a refusal; its Error text is the remark sent to the
// client, worded as upstream's.
type DeniedError struct{ Reason string }

func (e *DeniedError) Error() string { return e.Reason }
func (e *DeniedError) Unwrap() error { return ErrDenied }

func deny(format string, args ...string) error {
	// strings only, so that a refusal costs one small allocation and no
	// fmt reflection on the path a flood of bad requests takes.
	var b strings.Builder
	ai := 0
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 's' && ai < len(args) {
			b.WriteString(args[ai])
			ai++
			i++
			continue
		}
		b.WriteByte(format[i])
	}
	return &DeniedError{Reason: b.String()}
}

// retryPrefix marks a group's retry topic; DLQ topics are the group's too.
const (
	retryPrefix = "%RETRY%"
	dlqPrefix   = "%DLQ%"
)

// adminCode reports the codes upstream reserves for admin accounts, plus
// offset reset, which changes what every consumer of a group reads.
func adminCode(code int16) bool {
	switch code {
	case remoting.UpdateAndCreateTopic, remoting.UpdateBrokerConfig, remoting.DeleteTopicInBroker,
		remoting.UpdateAndCreateSubscriptionGroup, remoting.DeleteSubscriptionGroup,
		remoting.InvokeBrokerToResetOffset:
		return true
	}
	return false
}

// resource is one topic or group a request touches and what it needs.
type resource struct {
	name  string
	group bool // name is a group (a retry topic was trimmed to its group)
	need  Perm
}

// maxResources bounds the resources checked per request on the stack; a
// heartbeat naming more spills to the heap.
const maxResources = 8

func topicResource(topic string, need Perm) resource {
	if g, ok := strings.CutPrefix(topic, retryPrefix); ok {
		return resource{name: g, group: true, need: Sub}
	}
	if g, ok := strings.CutPrefix(topic, dlqPrefix); ok {
		return resource{name: g, group: true, need: Sub}
	}
	return resource{name: topic, need: need}
}

func groupResource(group string) resource { return resource{name: group, group: true, need: Sub} }

// resources lists what req touches, as upstream's PlainAccessResource.parse
// does, without allocating (except to decode a heartbeat body).
func resources(req *remoting.Command, dst []resource) ([]resource, error) {
	get := func(k string) string { v, _ := req.Ext.Get(k); return v }
	switch req.Code {
	case remoting.SendMessage, remoting.SendReplyMessage, remoting.RecallMessage:
		dst = append(dst, topicResource(get("topic"), Pub))
	case remoting.SendMessageV2, remoting.SendBatchMessage, remoting.SendReplyMessageV2:
		t := get("b")
		if t == "" {
			t = get("topic")
		}
		dst = append(dst, topicResource(t, Pub))
	case remoting.ConsumerSendMsgBack:
		dst = append(dst, groupResource(get("group")))
		if ot := get("originTopic"); ot != "" {
			dst = append(dst, topicResource(ot, Pub))
		}
	case remoting.PullMessage:
		dst = append(dst, topicResource(get("topic"), Sub), groupResource(get("consumerGroup")))
	case remoting.QueryMessage:
		dst = append(dst, topicResource(get("topic"), Sub))
	case remoting.UpdateConsumerOffset:
		dst = append(dst, groupResource(get("consumerGroup")), topicResource(get("topic"), Sub))
	case remoting.UnregisterClient, remoting.GetConsumerListByGroup:
		dst = append(dst, groupResource(get("consumerGroup")))
	case remoting.CodeOutOfRange:
		return popResources(req, get, dst)
	case remoting.HeartBeat:
		hb, err := wire.DecodeHeartbeat(req.Body)
		if err != nil {
			return dst, deny("Bad heartbeat body: %s", err.Error())
		}
		for i := range hb.ConsumerDataSet {
			cd := &hb.ConsumerDataSet[i]
			dst = append(dst, groupResource(cd.GroupName))
			for _, sd := range cd.SubscriptionDataSet {
				dst = append(dst, topicResource(sd.Topic, Sub))
			}
		}
	}
	return dst, nil
}

// popResources lists what a 5.x POP request touches: its topic (SUB) and
// group. PEEK_MESSAGE, NOTIFICATION and POLLING_INFO read the same and are
// checked the same. An ack names the stored topic, which for a redelivery is the
// group's POP retry topic %RETRY%<group>_<topic> (or +<topic>): the topic
// checked is the one inside it.
func popResources(req *remoting.Command, get func(string) string, dst []resource) ([]resource, error) {
	switch int32(req.ReceivedCode()) {
	case remoting.PopMessage, remoting.AckMessage, remoting.ChangeMessageInvisibleTime,
		remoting.PeekMessage, remoting.Notification, remoting.PollingInfo:
		g, t := get("consumerGroup"), get("topic")
		if rest, ok := strings.CutPrefix(t, retryPrefix+g+"_"); ok {
			t = rest
		} else if rest, ok := strings.CutPrefix(t, retryPrefix+g+"+"); ok {
			t = rest
		}
		dst = append(dst, topicResource(t, Sub), groupResource(g))
	case remoting.BatchAckMessage:
		var body struct {
			Acks []struct {
				Group string `json:"c"`
				Topic string `json:"t"`
			} `json:"acks"`
		}
		if err := json.Unmarshal(req.Body, &body); err != nil {
			return dst, deny("Bad batch ack body: %s", err.Error())
		}
		for _, a := range body.Acks {
			dst = append(dst, topicResource(a.Topic, Sub), groupResource(a.Group))
		}
	}
	return dst, nil
}

// check decides one request against r. host is the client's address
// without the port.
func (r *Rules) check(host string, req *remoting.Command) error {
	for i := range r.global {
		if r.global[i].match(host) {
			return nil
		}
	}
	ak, ok := req.Ext.Get(auth.FieldAccessKey)
	if !ok || ak == "" {
		return deny("No accessKey is configured")
	}
	acc, ok := r.accounts[ak]
	if !ok {
		return deny("No acl config for %s", ak)
	}
	if acc.hasWhite && acc.white.match(host) {
		return nil
	}
	sig, _ := req.Ext.Get(auth.FieldSignature)
	v := acc.verifiers.Get().(*auth.Verifier)
	good := v.Verify(req, sig)
	acc.verifiers.Put(v)
	if !good {
		return deny("Check signature failed for accessKey=%s", ak)
	}
	if adminCode(req.Code) && !acc.admin {
		return deny("Need admin permission for request code=%s, but accessKey=%s is not admin", codeString(req.Code), ak)
	}
	if acc.admin && !acc.explicitly {
		return nil
	}
	var stack [maxResources]resource
	res, err := resources(req, stack[:0])
	if err != nil {
		return err
	}
	for _, rs := range res {
		owned, explicit := acc.topics[rs.name]
		def := acc.defTopic
		if rs.group {
			owned, explicit = acc.groups[rs.name]
			def = acc.defGroup
		}
		if !explicit {
			if !def.allows(rs.need) {
				return deny("No default permission for %s", resourceName(rs))
			}
			continue
		}
		if !owned.allows(rs.need) {
			return deny("No permission for %s", resourceName(rs))
		}
	}
	return nil
}

func resourceName(rs resource) string {
	if rs.group {
		return retryPrefix + rs.name
	}
	return rs.name
}

func codeString(c int16) string {
	var b [8]byte
	i := len(b)
	n := int(c)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// hostOf strips the port from "host:port" ("[v6]:port" too).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
