package acl

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/rocketgo/rocketgo/auth"
)

// Perm is a permission bit set, with upstream's values.
type Perm uint8

// Permission bits (upstream's Permission class).
const (
	Deny Perm = 1
	Any  Perm = 1 << 1
	Pub  Perm = 1 << 2
	Sub  Perm = 1 << 3
)

// ParsePerm reads "PUB", "SUB", "PUB|SUB", "SUB|PUB", "ANY" or "DENY";
// anything else is DENY, as upstream reads it.
func ParsePerm(s string) Perm {
	switch strings.TrimSpace(s) {
	case "PUB":
		return Pub
	case "SUB":
		return Sub
	case "PUB|SUB", "SUB|PUB":
		return Pub | Sub
	case "ANY":
		return Any
	}
	return Deny
}

// allows reports whether an owned permission grants a needed one.
func (owned Perm) allows(needed Perm) bool {
	if owned&Deny != 0 {
		return false
	}
	if owned&Any != 0 { // ANY owns both directions
		owned |= Pub | Sub
	}
	if needed&Any != 0 {
		return owned&(Pub|Sub) != 0
	}
	return needed&owned != 0
}

// File is plain_acl.yml.
type File struct {
	GlobalWhiteRemoteAddresses []string  `yaml:"globalWhiteRemoteAddresses"`
	Accounts                   []Account `yaml:"accounts"`
}

// Account is one entry of accounts[].
type Account struct {
	AccessKey          string   `yaml:"accessKey"`
	SecretKey          string   `yaml:"secretKey"`
	WhiteRemoteAddress string   `yaml:"whiteRemoteAddress"`
	Admin              bool     `yaml:"admin"`
	DefaultTopicPerm   string   `yaml:"defaultTopicPerm"`
	DefaultGroupPerm   string   `yaml:"defaultGroupPerm"`
	TopicPerms         []string `yaml:"topicPerms"`
	GroupPerms         []string `yaml:"groupPerms"`
}

// ErrInvalidFile is wrapped by every error about an unusable ACL file.
var ErrInvalidFile = errors.New("acl: invalid ACL file")

// Parse reads plain_acl.yml content and compiles it.
func Parse(data []byte) (*Rules, error) {
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidFile, err)
	}
	return Compile(f)
}

// Rules is a compiled File. It is immutable once built.
type Rules struct {
	global   []addrPattern
	accounts map[string]*account
}

type account struct {
	accessKey  string
	secretKey  string
	white      addrPattern
	hasWhite   bool
	admin      bool
	defTopic   Perm
	defGroup   Perm
	topics     map[string]Perm
	groups     map[string]Perm // by group name, without %RETRY%
	verifiers  sync.Pool       // *auth.Verifier keyed with secretKey
	explicitly bool            // any topicPerms or groupPerms given
}

// Compile checks f and builds its Rules.
func Compile(f File) (*Rules, error) {
	r := &Rules{accounts: make(map[string]*account, len(f.Accounts))}
	for _, g := range f.GlobalWhiteRemoteAddresses {
		p, err := parseAddrPattern(g)
		if err != nil {
			return nil, fmt.Errorf("%w: globalWhiteRemoteAddresses: %v", ErrInvalidFile, err)
		}
		r.global = append(r.global, p)
	}
	for i, a := range f.Accounts {
		if a.AccessKey == "" || a.SecretKey == "" {
			return nil, fmt.Errorf("%w: account %d: accessKey and secretKey are required", ErrInvalidFile, i)
		}
		if len(a.AccessKey) <= 6 || len(a.SecretKey) <= 6 {
			// upstream refuses keys this short
			return nil, fmt.Errorf("%w: account %q: accessKey and secretKey need more than 6 characters", ErrInvalidFile, a.AccessKey)
		}
		if _, dup := r.accounts[a.AccessKey]; dup {
			return nil, fmt.Errorf("%w: account %q appears twice", ErrInvalidFile, a.AccessKey)
		}
		acc := &account{
			accessKey: a.AccessKey,
			secretKey: a.SecretKey,
			admin:     a.Admin,
			defTopic:  ParsePerm(a.DefaultTopicPerm),
			defGroup:  ParsePerm(a.DefaultGroupPerm),
			topics:    map[string]Perm{},
			groups:    map[string]Perm{},
		}
		if strings.TrimSpace(a.WhiteRemoteAddress) != "" {
			p, err := parseAddrPattern(a.WhiteRemoteAddress)
			if err != nil {
				return nil, fmt.Errorf("%w: account %q: whiteRemoteAddress: %v", ErrInvalidFile, a.AccessKey, err)
			}
			acc.white, acc.hasWhite = p, true
		}
		for _, tp := range a.TopicPerms {
			name, perm, err := parseResourcePerm(tp)
			if err != nil {
				return nil, fmt.Errorf("%w: account %q: topicPerms: %v", ErrInvalidFile, a.AccessKey, err)
			}
			acc.topics[name] = perm
		}
		for _, gp := range a.GroupPerms {
			name, perm, err := parseResourcePerm(gp)
			if err != nil {
				return nil, fmt.Errorf("%w: account %q: groupPerms: %v", ErrInvalidFile, a.AccessKey, err)
			}
			acc.groups[name] = perm
		}
		acc.explicitly = len(acc.topics)+len(acc.groups) > 0
		secret := a.SecretKey
		acc.verifiers.New = func() any { return auth.NewVerifier(secret) }
		r.accounts[a.AccessKey] = acc
	}
	return r, nil
}

func parseResourcePerm(s string) (string, Perm, error) {
	name, perm, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.Contains(perm, "=") {
		return "", 0, fmt.Errorf("%q is not name=PERM", s)
	}
	return name, ParsePerm(perm), nil
}
