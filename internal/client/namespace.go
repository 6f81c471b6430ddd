package client

import "strings"

// Namespaces are client-side name mangling (upstream NamespaceUtil): topic T and
// group G of namespace ns travel as "ns%T" and "ns%G", and the retry and
// dead-letter topics of a group keep their prefix in front:
// "%RETRY%ns%G".
const (
	retryPrefix = "%RETRY%"
	dlqPrefix   = "%DLQ%"
	nsSep       = "%"
)

// Namespace returns the configured namespace ("" for none).
func (c *Client) Namespace() string { return c.cfg.namespace }

// Wrap returns name as it travels on the wire under the Client's
// namespace. Names already wrapped, and the TBW102 template, are returned
// unchanged.
func (c *Client) Wrap(name string) string { return WrapNamespace(c.cfg.namespace, name) }

// Unwrap strips the Client's namespace from a wire name.
func (c *Client) Unwrap(name string) string { return UnwrapNamespace(c.cfg.namespace, name) }

// WrapNamespace prefixes name with ns (see Client.Wrap).
func WrapNamespace(ns, name string) string {
	if ns == "" || name == "" || name == DefaultTopic {
		return name
	}
	prefix, name := splitGroupPrefix(name)
	if strings.HasPrefix(name, ns+nsSep) {
		return prefix + name
	}
	return prefix + ns + nsSep + name
}

// splitGroupPrefix separates a retry or DLQ prefix, which stays outside the
// namespace, from the rest of name.
func splitGroupPrefix(name string) (prefix, rest string) {
	for _, p := range [...]string{retryPrefix, dlqPrefix} {
		if strings.HasPrefix(name, p) {
			return p, name[len(p):]
		}
	}
	return "", name
}

// UnwrapNamespace removes ns from a wire name, keeping a retry or DLQ
// prefix; names outside ns are returned unchanged.
func UnwrapNamespace(ns, name string) string {
	if ns == "" {
		return name
	}
	prefix, name := splitGroupPrefix(name)
	return prefix + strings.TrimPrefix(name, ns+nsSep)
}
