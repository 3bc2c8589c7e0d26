package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// PathPrefix starts the path of every registered device's channel:
// gb28181/{device_id}/{channel_id}. A viewer on such a path INVITEs the
// channel on demand (StartOnDemand).
const PathPrefix = "gb28181/"

// ChannelPath is the stream path of a device's channel.
func ChannelPath(deviceID, channelID string) string {
	return PathPrefix + deviceID + "/" + channelID
}

// ParseChannelPath reads gb28181/{device_id}/{channel_id}; ok is false for
// any other path.
func ParseChannelPath(path string) (deviceID, channelID string, ok bool) {
	rest, found := strings.CutPrefix(path, PathPrefix)
	if !found {
		return "", "", false
	}
	deviceID, channelID, found = strings.Cut(rest, "/")
	if !found || !validID(deviceID) || !validID(channelID) {
		return "", "", false
	}
	return deviceID, channelID, true
}

// ErrUnknownChannel answers a play of a device that is not online or a
// channel its catalog does not list. It wraps gateway.ErrNotFound, so
// viewers get 404.
var ErrUnknownChannel = fmt.Errorf("gb28181: no such channel online: %w", gateway.ErrNotFound)

// ErrIdle ends a session started for viewers once the last one left and
// IdleStopAfter passed.
var ErrIdle = errors.New("gb28181: no viewer left (idle stop)")

// StartOnDemand is the hub's on-demand start for gb28181/ paths: it INVITEs
// the channel (unless a session is up or being set up already: one INVITE
// per channel whatever the number of viewers) and waits until the stream
// is playable or ctx ends. The session is ended with a BYE once it has had
// no viewer for IdleStopAfter. Paths of another shape, an unknown device or
// channel answer ErrUnknownChannel.
func (p *Platform) StartOnDemand(ctx context.Context, path string) error {
	dev, ch, ok := ParseChannelPath(path)
	if !ok {
		return fmt.Errorf("%w: %s is not a gb28181/{device}/{channel} path", ErrUnknownChannel, path)
	}
	if _, err := p.play(ctx, dev, ch, false); err != nil {
		return err
	}
	return p.Hub.WaitReady(ctx, path)
}

// Play starts live video of a device's channel for the API, as a viewer
// would, but the session stays up without viewers until Stop (a viewer
// start that joins it does not change that). It returns once the INVITE is
// answered; the stream is playable at its first key frame.
func (p *Platform) Play(ctx context.Context, deviceID, channelID string) (SessionInfo, error) {
	s, err := p.play(ctx, deviceID, channelID, true)
	if err != nil {
		return SessionInfo{}, err
	}
	return s.Info(), nil
}

// Stop ends the session of a device's channel with a BYE.
func (p *Platform) Stop(ctx context.Context, deviceID, channelID string) error {
	s := p.sessionFor(deviceID, channelID)
	if s == nil {
		return fmt.Errorf("%w: no session for %s channel %s", gateway.ErrNotFound, deviceID, channelID)
	}
	return s.Bye(ctx)
}

// play finds or makes the session of one channel. pinned marks it as
// started by the API: no idle stop.
func (p *Platform) play(ctx context.Context, dev, ch string, pinned bool) (*Session, error) {
	if err := p.knownChannel(dev, ch); err != nil {
		return nil, err
	}
	key := dev + "/" + ch
	for {
		p.mu.Lock()
		if s := p.sessionForLocked(dev, ch); s != nil {
			if pinned {
				s.pinned.Store(true)
			}
			p.mu.Unlock()
			return s, nil
		}
		wait, busy := p.starting[key]
		if !busy {
			wait = make(chan struct{})
			p.starting[key] = wait
		}
		p.mu.Unlock()
		if busy {
			// Someone else's INVITE for this channel is in flight.
			select {
			case <-wait:
				if p.sessionFor(dev, ch) == nil {
					return nil, fmt.Errorf("gb28181: starting %s channel %s failed", dev, ch)
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		s, err := p.Invite(ctx, dev, ch, p.PlayTransport)
		p.mu.Lock()
		delete(p.starting, key)
		p.mu.Unlock()
		close(wait)
		if err != nil {
			return nil, err
		}
		s.pinned.Store(pinned)
		// Close waits for p.wg once closed is set, under p.mu.
		p.mu.Lock()
		if !p.closed {
			p.wg.Add(1)
			go p.idleStop(s)
		}
		p.mu.Unlock()
		return s, nil
	}
}

// knownChannel checks that dev is online and lists ch (a device that
// reported no catalog yet, and a device's own id, pass: single-channel
// cameras use it).
func (p *Platform) knownChannel(dev, ch string) error {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[dev]
	if d == nil || !p.online(d, now) {
		return fmt.Errorf("%w: device %s is not online", ErrUnknownChannel, dev)
	}
	for _, m := range p.mints {
		if m.agentID == dev {
			// A DJI push: it plays on its own path, set up by the control
			// plane.
			return fmt.Errorf("%w: %s is the agent of the DJI push of %s", ErrUnknownChannel, dev, m.path)
		}
	}
	if _, listed := d.channels[ch]; listed || ch == dev || len(d.channels) == 0 {
		return nil
	}
	return fmt.Errorf("%w: device %s has no channel %s", ErrUnknownChannel, dev, ch)
}

// idleStop ends a session that has had no viewer for IdleStopAfter (0:
// never), unless the API pinned it. It looks at the stream's readers every
// quarter of the delay.
func (p *Platform) idleStop(s *Session) {
	defer p.wg.Done()
	if p.IdleStopAfter <= 0 {
		return
	}
	t := time.NewTicker(max(p.IdleStopAfter/4, 50*time.Millisecond))
	defer t.Stop()
	since := time.Now()
	for {
		select {
		case <-s.done:
			return
		case <-p.ctx.Done():
			return
		case now := <-t.C:
			if st := p.Hub.Stream(s.Path); s.pinned.Load() || st != nil && len(st.Readers()) > 0 {
				since = now
				continue
			}
			if now.Sub(since) >= p.IdleStopAfter {
				p.Log.Info("GB28181 session without viewers: ending it", "session", s.ID, "device", s.DeviceID,
					"channel", s.ChannelID, "path", s.Path, "idle_stop_after", p.IdleStopAfter)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				s.end(ctx, true, ErrIdle)
				cancel()
				return
			}
		}
	}
}
