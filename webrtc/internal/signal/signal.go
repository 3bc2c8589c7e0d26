// Package signal is the HTTP side of Skyrelay's WHIP and WHEP clients
// (RFC 9725 §4): POST an offer and read the 201, PATCH trickled
// candidates, DELETE the session. The clients add their PeerConnections.
package signal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoint is how a client reaches a WHIP or WHEP endpoint.
type Endpoint struct {
	Kind string       // "WHIP" or "WHEP", for error messages
	HTTP *http.Client // http.DefaultClient if nil
	// Token is sent as a bearer token when set; User/Pass as Basic auth.
	Token, User, Pass string
}

// HTTPError is a signalling answer other than the expected one.
type HTTPError struct {
	Kind   string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.Kind, e.Status, strings.TrimSpace(e.Body))
}

// Answer is a 201 to an offer.
type Answer struct {
	SDP         string
	Location    *url.URL // resolved against the endpoint URL
	ETag        string
	ContentType string
}

// Offer POSTs offer to endpoint and returns the 201's answer; any other
// status is an *HTTPError.
func (e Endpoint) Offer(ctx context.Context, endpoint, offer string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return Answer{}, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	res, err := e.do(req)
	if err != nil {
		return Answer{}, err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return Answer{}, &HTTPError{Kind: e.Kind, Status: res.StatusCode, Body: string(body)}
	}
	loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
	if err != nil || res.Header.Get("Location") == "" {
		return Answer{}, errors.New("201 without a usable Location header")
	}
	return Answer{SDP: string(body), Location: loc, ETag: res.Header.Get("ETag"), ContentType: res.Header.Get("Content-Type")}, nil
}

// Patch sends an SDP fragment (trickle ICE) to the session at location and
// returns the HTTP status.
func (e Endpoint) Patch(ctx context.Context, location, frag, ifMatch string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, location, strings.NewReader(frag))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	return e.status(req)
}

// Delete ends the session at location and returns the HTTP status.
func (e Endpoint) Delete(ctx context.Context, location string) (int, error) {
	if location == "" {
		return 0, errors.New("no session")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil)
	if err != nil {
		return 0, err
	}
	return e.status(req)
}

// Hangup deletes the session at location, if any, as a client closing
// does: best effort, for at most 3 s, the answer ignored.
func (e Endpoint) Hangup(location string) {
	if location == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = e.Delete(ctx, location)
}

func (e Endpoint) status(req *http.Request) (int, error) {
	res, err := e.do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode, nil
}

func (e Endpoint) do(req *http.Request) (*http.Response, error) {
	if e.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	} else if e.User != "" || e.Pass != "" {
		req.SetBasicAuth(e.User, e.Pass)
	}
	c := e.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}
