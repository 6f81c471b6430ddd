package client

// Handle carries an implementation Client inside the public client.Client
// without making this package's wide API public. The public type embeds a
// Handle under an unexported name; the promoted unexported method below
// lets Of, and so the producer and consumer packages, reach the
// implementation, while applications see no exported field or method.
type Handle struct{ impl *Client }

// NewHandle wraps c.
func NewHandle(c *Client) Handle { return Handle{impl: c} }

func (h Handle) implementation() *Client { return h.impl }

type carrier interface{ implementation() *Client }

// Of returns the implementation inside a public client.Client (nil for a
// nil one).
func Of(c carrier) *Client {
	if c == nil {
		return nil
	}
	return c.implementation()
}

// Hooks returns the hooks the Client was built with, in order, for the
// producer and consumer to pick the kinds they call.
func (c *Client) Hooks() []any { return c.cfg.hooks }

// WithHooks records hooks (any values; the public package checks their
// kinds). Default: none.
func WithHooks(hooks ...any) Option {
	return func(c *config) { c.hooks = append(c.hooks, hooks...) }
}
