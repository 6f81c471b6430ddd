package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rocketgo/rocketgo/message"
)

// Expression types of a subscription.
const (
	ExpressionTag   = "TAG"
	ExpressionSQL92 = "SQL92"
)

// SubAll is the expression that matches every message.
const SubAll = "*"

// SubscriptionData is one topic subscription as heartbeats carry it
// (upstream SubscriptionData).
type SubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         CodeSet  `json:"codeSet"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// CodeSet is a set of tag hash codes. Java sends JSON numbers, the Go client
// sends them as strings; both decode. We always encode numbers.
type CodeSet []int64

// UnmarshalJSON accepts numbers and numeric strings.
func (c *CodeSet) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("wire: codeSet: %w", err)
	}
	out := make(CodeSet, 0, len(raw))
	for _, r := range raw {
		s := strings.Trim(string(r), `"`)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("wire: codeSet entry %s: %w", r, err)
		}
		out = append(out, n)
	}
	*c = out
	return nil
}

// ParseSubscription builds the subscription of a tag expression: "*" or
// empty matches everything; otherwise tags are split on "||", trimmed and
// emptied ones dropped. Hash codes use Java semantics (message.TagsHashCode),
// so a broker may trust what our clients send — but a broker still
// recomputes codes, because other clients hash differently.
func ParseSubscription(topic, expression string, version int64) SubscriptionData {
	sd := SubscriptionData{Topic: topic, SubString: expression, SubVersion: version, ExpressionType: ExpressionTag, TagsSet: []string{}, CodeSet: CodeSet{}}
	expr := strings.TrimSpace(expression)
	if expr == "" || expr == SubAll {
		sd.SubString = SubAll
		return sd
	}
	for _, tag := range strings.Split(expr, "||") {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		sd.TagsSet = append(sd.TagsSet, tag)
		sd.CodeSet = append(sd.CodeSet, message.TagsHashCode(tag))
	}
	return sd
}

// ParseSQL92Subscription builds the subscription of a SQL92 property
// expression, which only the broker evaluates (it needs
// enablePropertyFilter=true there).
func ParseSQL92Subscription(topic, expression string, version int64) SubscriptionData {
	return SubscriptionData{Topic: topic, SubString: strings.TrimSpace(expression), SubVersion: version,
		ExpressionType: ExpressionSQL92, TagsSet: []string{}, CodeSet: CodeSet{}}
}

// MatchAll reports whether the subscription accepts every tag.
func (s *SubscriptionData) MatchAll() bool {
	return s.SubString == SubAll || s.SubString == "" || (s.ExpressionType == ExpressionTag && len(s.TagsSet) == 0)
}

// MatchesCode is the broker's consume-queue filter: a hash-code match.
func (s *SubscriptionData) MatchesCode(code int64) bool {
	if s.MatchAll() || s.ExpressionType == ExpressionSQL92 {
		return true
	}
	for _, c := range s.CodeSet {
		if c == code {
			return true
		}
	}
	return false
}

// MatchesTag is the client's exact re-check after the broker's hash filter.
// Messages without a tag match only "*". SQL92 subscriptions were filtered
// exactly by the broker, so everything they receive matches.
func (s *SubscriptionData) MatchesTag(tag string) bool {
	if s.MatchAll() || s.ExpressionType == ExpressionSQL92 {
		return true
	}
	for _, t := range s.TagsSet {
		if t == tag {
			return true
		}
	}
	return false
}

// Normalize recomputes the code set from the tag set with Java hashing.
func (s *SubscriptionData) Normalize() {
	if s.ExpressionType == "" {
		s.ExpressionType = ExpressionTag
	}
	if s.ExpressionType != ExpressionTag {
		return
	}
	if s.MatchAll() {
		s.CodeSet = CodeSet{}
		return
	}
	codes := make(CodeSet, 0, len(s.TagsSet))
	for _, t := range s.TagsSet {
		codes = append(codes, message.TagsHashCode(t))
	}
	s.CodeSet = codes
}
