package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// addrPattern is one of upstream's remote-address patterns for IPv4:
// "*" (everyone), "192.168.0.1", "192.168.*.*" or "192.168.*",
// "192.168.1.1-100", "192.168.0.{1,2}". Any other text (an IPv6 address)
// must equal the client's host exactly.
type addrPattern struct {
	any   bool
	exact string        // non-IPv4 pattern
	segs  [4]segPattern // IPv4 octet matchers
}

type segPattern struct {
	lo, hi uint8
	set    []uint8 // {a,b,c}; nil means the range applies
}

func (s segPattern) match(v uint8) bool {
	if s.set != nil {
		for _, x := range s.set {
			if x == v {
				return true
			}
		}
		return false
	}
	return v >= s.lo && v <= s.hi
}

func parseAddrPattern(p string) (addrPattern, error) {
	p = strings.TrimSpace(p)
	if p == "*" || p == "*.*.*.*" {
		return addrPattern{any: true}, nil
	}
	if strings.Contains(p, ":") { // IPv6: exact match only
		return addrPattern{exact: p}, nil
	}
	parts := strings.Split(p, ".")
	if len(parts) > 4 || p == "" {
		return addrPattern{}, fmt.Errorf("bad address pattern %q", p)
	}
	var ap addrPattern
	for i := range 4 {
		if i >= len(parts) {
			// "10.*" leaves the rest open; "10.1" with no star is an error
			if parts[len(parts)-1] != "*" {
				return addrPattern{}, fmt.Errorf("bad address pattern %q", p)
			}
			ap.segs[i] = segPattern{lo: 0, hi: 255}
			continue
		}
		seg, err := parseSeg(parts[i], i == len(parts)-1)
		if err != nil {
			return addrPattern{}, fmt.Errorf("bad address pattern %q: %v", p, err)
		}
		ap.segs[i] = seg
	}
	return ap, nil
}

func parseSeg(s string, last bool) (segPattern, error) {
	switch {
	case s == "*":
		return segPattern{lo: 0, hi: 255}, nil
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
		if !last {
			return segPattern{}, fmt.Errorf("{...} only in the last octet")
		}
		var set []uint8
		for _, x := range strings.Split(s[1:len(s)-1], ",") {
			v, err := octet(x)
			if err != nil {
				return segPattern{}, err
			}
			set = append(set, v)
		}
		return segPattern{set: set}, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err := octet(a)
		if err != nil {
			return segPattern{}, err
		}
		hi, err := octet(b)
		if err != nil || lo > hi {
			return segPattern{}, fmt.Errorf("bad range %q", s)
		}
		return segPattern{lo: lo, hi: hi}, nil
	}
	v, err := octet(s)
	return segPattern{lo: v, hi: v}, err
}

func octet(s string) (uint8, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	return uint8(n), nil
}

// match reports whether host (no port) matches. It does not allocate.
func (p *addrPattern) match(host string) bool {
	if p.any {
		return true
	}
	if p.exact != "" {
		return host == p.exact
	}
	var oct [4]uint8
	n, v, digits := 0, 0, 0
	for i := 0; i <= len(host); i++ {
		if i == len(host) || host[i] == '.' {
			if digits == 0 || n == 4 {
				return false
			}
			oct[n] = uint8(v)
			n, v, digits = n+1, 0, 0
			continue
		}
		c := host[i]
		if c < '0' || c > '9' || digits == 3 {
			return false
		}
		v, digits = v*10+int(c-'0'), digits+1
		if v > 255 {
			return false
		}
	}
	if n != 4 {
		return false
	}
	for i := range 4 {
		if !p.segs[i].match(oct[i]) {
			return false
		}
	}
	return true
}
