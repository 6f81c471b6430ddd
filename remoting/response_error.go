package remoting

import "strconv"

// ResponseError is a non-success answer: the peer (broker or name server)
// understood the request and refused it with Code and Remark. It is the one
// error type for such answers across the SDK, the name-server client and
// admin code. errors.Is matches it against the sentinel of its code
// (ErrSystemBusy, ErrTopicNotExist, ... or CodeError(code) for any other),
// and errors.As reads the details:
//
//	var re *remoting.ResponseError
//	if errors.As(err, &re) && re.Code == remoting.SubscriptionNotExist { ... }
type ResponseError struct {
	Op     string // the request, e.g. "PULL_MESSAGE" (CodeName of its code)
	Addr   string // the peer that answered
	Broker string // broker name, when the caller knows it
	Code   int16  // response code
	Remark string // the peer's explanation
}

// NewResponseError describes resp, the answer from addr to a request with
// code reqCode.
func NewResponseError(reqCode int16, addr string, resp *Command) *ResponseError {
	return &ResponseError{Op: CodeName(reqCode, false), Addr: addr, Code: resp.Code, Remark: resp.Remark}
}

func (e *ResponseError) Error() string {
	s := "remoting: " + e.Op + " to " + e.Addr
	if e.Broker != "" {
		s += " (" + e.Broker + ")"
	}
	return s + " answered " + CodeName(e.Code, true) + " (" + strconv.Itoa(int(e.Code)) + "): " + e.Remark
}

// Is matches the sentinel of e's code.
func (e *ResponseError) Is(target error) bool {
	c, ok := target.(*codeError)
	return ok && c.code == e.Code
}

// codeError is the sentinel of one response code.
type codeError struct{ code int16 }

func (c *codeError) Error() string {
	return "remoting: " + CodeName(c.code, true) + " (" + strconv.Itoa(int(c.code)) + ")"
}

// Sentinels of the response codes callers branch on most. Every
// *ResponseError matches the sentinel of its code with errors.Is.
var (
	ErrSystemError          = CodeError(SystemError)
	ErrSystemBusy           = CodeError(SystemBusy)
	ErrCodeNotSupported     = CodeError(RequestCodeNotSupported)
	ErrTopicNotExist        = CodeError(TopicNotExist)
	ErrQueryNotFound        = CodeError(QueryNotFound)
	ErrNoPermission         = CodeError(NoPermission)
	ErrMessageIllegal       = CodeError(MessageIllegal)
	ErrServiceNotAvailable  = CodeError(ServiceNotAvailable)
	ErrSubscriptionNotExist = CodeError(SubscriptionNotExist)
	ErrIllegalOperation     = CodeError(IllegalOperation)
)

// CodeError returns the sentinel of response code: errors.Is(err,
// CodeError(c)) holds for every *ResponseError with Code c. Sentinels of the
// same code compare equal under errors.Is even when obtained separately.
func CodeError(code int16) error { return &codeError{code: code} }

// Is makes sentinels of one code match each other.
func (c *codeError) Is(target error) bool {
	o, ok := target.(*codeError)
	return ok && o.code == c.code
}
