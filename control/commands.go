package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/control/broker"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// callReply is a services_reply.
type callReply struct {
	Method string
	Result int
	// Output is data.output, or the legacy data.info (the RTSP pull URL of
	// old Pilot builds) when there is no output.
	Output json.RawMessage
	Data   json.RawMessage
	// Malformed says why the reply could not be read (its result is not a
	// number, or missing): the command failed, it did not succeed.
	Malformed error
	took      time.Duration
}

// Errors of a command.
var (
	// errNoReply: no services_reply within reply_timeout.
	errNoReply = errors.New("no reply")
	// errMalformedReply: the reply came but its result is unreadable.
	errMalformedReply = errors.New("malformed reply")
)

// pending is one command waiting for its reply.
type pending struct {
	bid    string
	method string
	reply  chan *callReply
	fail   chan error
}

// commander matches services_reply messages to the commands waiting for
// them, by tid and bid (docs/dji-cloud-api.md, tid and bid).
type commander struct {
	mu      sync.Mutex
	pending map[string]*pending
}

func (c *commander) add(tid string, p *pending) {
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[string]*pending{}
	}
	c.pending[tid] = p
	c.mu.Unlock()
}

func (c *commander) remove(tid string) {
	c.mu.Lock()
	delete(c.pending, tid)
	c.mu.Unlock()
}

// resolve hands a reply, matched by tid and bid, to its command; false
// when nobody waits for it (a late reply, or one for another cloud on the
// same broker).
func (c *commander) resolve(tid, bid string, r *callReply) bool {
	c.mu.Lock()
	p := c.pending[tid]
	if p != nil && p.bid == bid {
		delete(c.pending, tid)
	} else {
		p = nil
	}
	c.mu.Unlock()
	if p == nil {
		return false
	}
	p.reply <- r // buffered, and removed above, so never blocks
	return true
}

// failAll fails every waiting command: their replies can no longer arrive.
func (c *commander) failAll(err error) {
	c.mu.Lock()
	ps := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range ps {
		p.fail <- err
	}
}

// call publishes a service with a fresh tid and waits for its reply. bid
// groups the calls of one live session; pass "" for a fresh one.
func (p *Plane) call(ctx context.Context, gw, method, bid string, data any) (*callReply, error) {
	if bid == "" {
		bid = cloudapi.NewID()
	}
	tid := cloudapi.NewID()
	if data == nil {
		data = map[string]any{}
	}
	payload, err := json.Marshal(map[string]any{"tid": tid, "bid": bid, "timestamp": time.Now().UnixMilli(), "method": method, "data": data})
	if err != nil {
		return nil, err
	}
	w := &pending{bid: bid, method: method, reply: make(chan *callReply, 1), fail: make(chan error, 1)}
	// Registered before publishing: on the embedded broker a device can
	// answer before Publish returns.
	p.cmds.add(tid, w)
	defer p.cmds.remove(tid)
	start := time.Now()
	if err := p.bus.Publish(ctx, cloudapi.TopicServices(gw), payload); err != nil {
		return nil, fmt.Errorf("publish %s: %w", method, err)
	}
	p.log.Debug("command sent", "gateway", gw, "method", method, "tid", tid, "bid", bid)
	timer := time.NewTimer(p.Config.ReplyTimeout)
	defer timer.Stop()
	select {
	case r := <-w.reply:
		r.took = time.Since(start)
		if r.Malformed != nil {
			return r, fmt.Errorf("%w: %v", errMalformedReply, r.Malformed)
		}
		return r, nil
	case err := <-w.fail:
		return nil, err
	case <-timer.C:
		return nil, errNoReply
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, broker.ErrClosed
	}
}

// parseReply reads a services_reply, once, in the message handler. Its
// data.result must be a number ("result":"abc" is no success).
func parseReply(e *cloudapi.Envelope) *callReply {
	r := &callReply{Method: e.Method, Data: e.Data}
	d, ok := cloudapi.Members(e.Data)
	if !ok {
		r.Malformed = errNotObject(e.Data)
		return r
	}
	res, present := d["result"]
	n, isInt := cloudapi.Int(res)
	switch {
	case !present:
		r.Malformed = fmt.Errorf("%w: data has no result", cloudapi.ErrMalformed)
	case !isInt:
		r.Malformed = fmt.Errorf("%w: result is %s, not a number", cloudapi.ErrMalformed, cloudapi.ShortError(errors.New(string(res))))
	default:
		r.Result = int(n)
	}
	r.Output = d["output"]
	if cloudapi.IsNull(r.Output) {
		r.Output = d["info"]
	}
	if cloudapi.IsNull(r.Output) {
		r.Output = nil
	}
	return r
}

// callError turns a failed call into the API's error.
func callError(method string, err error, timeout time.Duration) *APIError {
	switch {
	case errors.Is(err, errMalformedReply):
		return &APIError{Status: 502, Code: "malformed_reply", Message: fmt.Sprintf("the device answered %s with a reply that cannot be read (%v); taken as a failure", method, err)}
	case errors.Is(err, errNoReply):
		return &APIError{Status: 504, Code: "timeout", Message: fmt.Sprintf("no reply to %s within %s", method, timeout)}
	case errors.Is(err, broker.ErrConnectionLost):
		return &APIError{Status: 503, Code: "mqtt_unavailable", Message: fmt.Sprintf("the connection to the MQTT broker dropped while waiting for the reply to %s; the device may or may not have acted on it", method)}
	case errors.Is(err, broker.ErrNotConnected), errors.Is(err, broker.ErrClosed):
		return &APIError{Status: 503, Code: "mqtt_unavailable", Message: fmt.Sprintf("%s not sent: %v", method, err)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &APIError{Status: 504, Code: "canceled", Message: fmt.Sprintf("gave up waiting for the reply to %s: %v", method, err)}
	}
	return &APIError{Status: 502, Code: "mqtt_error", Message: fmt.Sprintf("%s: %v", method, err)}
}
