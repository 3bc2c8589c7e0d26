package platform

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// errInviteCanceled is returned by Invite when the device did not answer
// before the timeout (or the caller gave up) and the INVITE was cancelled.
var errInviteCanceled = errors.New("no answer in time: INVITE cancelled")

// cancelWait bounds the wait for the device's answer to our CANCEL.
const cancelWait = 4 * time.Second

// waitAnswer waits for the final answer to an INVITE until ctx ends. Then
// it stops the INVITE's retransmissions at once and sends CANCEL (RFC 3261
// §9.1) in the background: sipgo would otherwise wait for a provisional
// answer, and so for Timer B (32 s), before cancelling, holding the media
// port all along. A device that never answered is sent the CANCEL anyway:
// it may have received the INVITE and be about to answer it.
func (p *Platform) waitAnswer(ctx context.Context, dlg *sipgo.DialogClientSession) error {
	wctx, wcancel := context.WithCancelCause(context.Background())
	defer wcancel(nil)
	stop := context.AfterFunc(ctx, func() { wcancel(sipgo.WaitAnswerForceCancelErr) })
	defer stop()
	err := dlg.WaitAnswer(wctx, sipgo.AnswerOptions{})
	var refused *sipgo.ErrDialogResponse
	if err == nil || ctx.Err() == nil || errors.As(err, &refused) {
		return err
	}
	cancelReq := newCancel(dlg.InviteRequest)
	// Close waits for p.wg once closed is set, under p.mu: add to it only
	// before that.
	p.mu.Lock()
	closing := p.closed
	if !closing {
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if closing {
		return errInviteCanceled
	}
	go func() {
		defer p.wg.Done()
		cctx, cancel := context.WithTimeout(context.Background(), cancelWait)
		defer cancel()
		res, err := p.cli.Do(cctx, cancelReq)
		switch {
		case err != nil:
			p.Log.Debug("GB28181 CANCEL not answered", "call", cancelReq.CallID().Value(), "error", err)
		case res.StatusCode != 200:
			p.Log.Debug("GB28181 CANCEL refused", "call", cancelReq.CallID().Value(), "code", res.StatusCode)
		}
	}()
	return errInviteCanceled
}

// newCancel builds the CANCEL of an INVITE (RFC 3261 §9.1): its Request-URI,
// top Via (same branch), From, To, Call-ID and CSeq number.
func newCancel(invite *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, invite.Recipient)
	c.AppendHeader(sip.HeaderClone(invite.Via()))
	c.AppendHeader(sip.HeaderClone(invite.From()))
	c.AppendHeader(sip.HeaderClone(invite.To()))
	c.AppendHeader(sip.HeaderClone(invite.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	sip.CopyHeaders("Route", invite, c)
	c.AppendHeader(sip.NewHeader("Content-Length", "0"))
	c.SetTransport(invite.Transport())
	c.SetDestination(invite.Destination())
	c.Laddr = invite.Laddr
	return c
}
