package rtmp

import (
	"net/url"
	"strings"

	"github.com/skyrelay/skyrelay/gateway/authz"
)

// streamPath turns the URL a peer asked for into the stream path and the
// credential it carried: rtmp://host/live/a?secret=S is path "live/a" with
// token S, and ?user=U&pass=P (as mediamtx takes them) a user and password;
// a player's ?jwt=T (or ?token=T) is its read token.
// DJI video_ids contain slashes (SN/99-0-0/normal-0) and stay whole.
//
// gortmplib builds the URL from the connect command's app and the publish
// or play command's stream name. A query may sit in either: in the stream
// name (ffmpeg, DJI) it ends up as the URL's query; in the app (an OBS
// "server" URL with ?secret=) it ends up before the stream name, as in
// "/live?secret=S/a", which is put back together here.
func streamPath(u *url.URL) (string, authz.Credential) {
	p, q := u.Path, u.RawQuery
	if i := strings.IndexByte(q, '/'); i >= 0 {
		key, keyQuery, _ := strings.Cut(q[i+1:], "?")
		q = q[:i]
		p += "/" + key
		if keyQuery != "" {
			if q != "" {
				q += "&"
			}
			q += keyQuery
		}
	}
	vals, _ := url.ParseQuery(q)
	return strings.Trim(p, "/"), authz.Credential{
		User:  vals.Get("user"),
		Pass:  vals.Get("pass"),
		Token: vals.Get("secret"),
		JWT:   authz.TokenFromQuery(vals),
		Query: q,
	}
}

// redact removes query strings, which carry push secrets, from text meant
// for a log: gortmplib's errors quote whole commands, tcUrl included.
func redact(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		b.WriteString("REDACTED")
		s = s[i+1:]
		j := strings.IndexAny(s, " \t\r\n\"'}]),")
		if j < 0 {
			return b.String()
		}
		s = s[j:]
	}
}
