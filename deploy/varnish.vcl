# Varnish in front of Masthead, with purging by Surrogate-Key (the xkey vmod,
# Debian's varnish-modules). docs/deployment.md explains it; deploy/check.sh
# runs this very file in front of a real server. Written for Varnish 7.1
# (Debian 12). Varnish speaks no TLS: put it behind a TLS terminator (or use
# it in place of nginx's micro-cache, with nginx in front doing TLS).
#
# Masthead's pages may be kept 30 s (s-maxage=30), which Varnish follows; a
# page that must change sooner is purged by key:
#   curl -X PURGE -H 'xkey-purge: post-42' http://127.0.0.1:6081/
# Masthead itself sends no purge requests.
vcl 4.1;

import xkey;

backend masthead {
    .host = "127.0.0.1";
    .port = "2369";
}

# Who may purge.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "Name the keys to purge in an xkey-purge header"));
        }
        set req.http.purged = xkey.purge(req.http.xkey-purge);
        return (synth(200, "Purged " + req.http.purged + " objects"));
    }
    # Live-update streams stay open for as long as the reader reads.
    if (req.url ~ "^/_live/[0-9]+/events$") {
        return (pipe);
    }
    # Everything else follows Varnish's defaults: requests with a cookie (a
    # signed-in member of staff) or Authorization go to Masthead uncached.
}

sub vcl_backend_response {
    # xkey indexes objects by its own header: give it Masthead's keys.
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }
    # What Masthead marks no-store, private or no-cache is not kept: that is
    # Varnish's built-in rule, which runs after this.
}

sub vcl_synth {
    if (req.method == "PURGE") {
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = resp.reason + {"
"};
        return (deliver);
    }
}

sub vcl_deliver {
    unset resp.http.xkey;
    if (obj.hits > 0) {
        set resp.http.X-Varnish-Cache = "HIT";
    } else {
        set resp.http.X-Varnish-Cache = "MISS";
    }
}
